"""Prometheus metrics of the monitor, off by default.

:mod:`.collector` turns a :class:`~nova_vm_heartbeat.runtime.telemetry.
Snapshot` into metric families at scrape time (nothing is computed
between scrapes beyond the loop's plain counters); :mod:`.exporter`
serves them over HTTP on a thread of its own. Only this package imports
``prometheus_client``.
"""
