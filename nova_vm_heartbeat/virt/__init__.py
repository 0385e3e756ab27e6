"""The Nova driver extension: the only package that imports nova.

``HeartbeatLibvirtDriver`` (:mod:`.driver`) is a ``LibvirtDriver`` that
adds the heartbeat channel to the guest XML of flavors with
``hw:heartbeat=true``, runs the monitor inside nova-compute, and tells it
what Nova is doing to each instance. Nova loads it through the one-file
shim ``nova/virt/heartbeat_libvirt.py`` shipped in this package's wheel.

The extra spec validators (:mod:`.validators`) are loaded by nova-api
through the ``nova.api.extra_spec_validators`` entry point and import
nothing but Nova's validator base, so importing this package must stay
free of side effects and heavy imports.
"""
