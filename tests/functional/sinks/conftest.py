"""The messaging sink against a real broker.

These tests import oslo_messaging: choose native threads first, and
publish on nova's exchange, as the monitor does
(``nova_vm_heartbeat.cmd.monitor.configure``).
"""

from nova_vm_heartbeat import cmd

cmd.use_native_threads()

from nova_vm_heartbeat.sinks import impl_messaging  # noqa: E402

impl_messaging.set_defaults()
