"""Lets Nova load ``heartbeat_libvirt.HeartbeatLibvirtDriver``.

Nova imports its compute driver as ``nova.virt.<compute_driver>``, so this
one module is installed into Nova's package by nova-vm-heartbeat (and
nothing else of Nova's tree: not its ``__init__`` files). The driver
itself lives in ``nova_vm_heartbeat.virt.driver``.
"""

from nova_vm_heartbeat.virt.driver import HeartbeatLibvirtDriver

__all__ = ["HeartbeatLibvirtDriver"]
