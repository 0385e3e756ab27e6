"""The sinks' unit tests import oslo_messaging: choose native threads
first, as the monitor does (see ``nova_vm_heartbeat.cmd``)."""

from nova_vm_heartbeat import cmd

cmd.use_native_threads()
