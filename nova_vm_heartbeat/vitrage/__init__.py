"""Vitrage datasources of nova-vm-heartbeat.

Vitrage loads a datasource by name from the packages listed in
``[datasources] path``: list this package there and ``vm_heartbeat`` in
``[datasources] types``, and vitrage-graph imports
``nova_vm_heartbeat.vitrage.vm_heartbeat`` for its options, driver and
transformer. Vitrage was retired upstream in 2026; 15.0.1 is its last
release and the one this datasource is written and tested against.
"""
