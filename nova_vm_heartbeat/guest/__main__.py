"""``python3 -m nova_vm_heartbeat.guest``: the ``nova-vm-heartbeat-guest``
command."""

from __future__ import annotations

import sys

from nova_vm_heartbeat.guest import cli

if __name__ == "__main__":
    sys.exit(cli.main())
