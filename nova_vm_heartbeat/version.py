"""The installed version of nova-vm-heartbeat, as computed by pbr.

Host-side only: the guest agent must not import this module, because pbr is
not installed in guests (see :mod:`nova_vm_heartbeat`).
"""

from pbr import version as pbr_version

version_info = pbr_version.VersionInfo('nova-vm-heartbeat')
