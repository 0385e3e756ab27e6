"""Where verdicts go: notification sinks behind a stevedore namespace.

:func:`load` makes the sink an operator chose (``[heartbeat_sink]
driver``); :class:`Sink` is the interface every sink implements, and
:mod:`~nova_vm_heartbeat.sinks.impl_noop` the shortest example of it.
"""

from nova_vm_heartbeat.sinks.base import NAMESPACE
from nova_vm_heartbeat.sinks.base import Sink
from nova_vm_heartbeat.sinks.loader import load

__all__ = ["NAMESPACE", "Sink", "load"]
