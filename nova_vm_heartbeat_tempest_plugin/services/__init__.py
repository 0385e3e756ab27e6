"""Service clients the plugin registers with tempest."""

from nova_vm_heartbeat_tempest_plugin.services.instance_ha import (
    InstanceHaClient)

__all__ = ["InstanceHaClient"]
