"""The monitor's local admin endpoint, and its client.

The monitor (standalone or inside nova-compute) serves a UNIX socket that
only its owner and one group (``nova`` by default) may connect to. A
client sends one JSON object on one line and reads one JSON object on one
line back; :mod:`.wire` defines both, :mod:`.server` serves them on a
thread of its own, and :mod:`.client` is what ``nova-vm-heartbeat
status`` uses.
"""
