from __future__ import annotations

from oslo_config import cfg

from nova_vm_heartbeat.sinks import base
from nova_vm_heartbeat.sinks import impl_noop
from tests.unit.sinks.helpers import notification


def test_accepts_and_drops():
    sink = impl_noop.NoopSink(cfg.ConfigOpts())
    assert isinstance(sink, base.Sink)
    sink.start()
    sink.send(notification())
    sink.stop()
