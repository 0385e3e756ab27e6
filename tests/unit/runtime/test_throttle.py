"""Log throttling."""

from __future__ import annotations

from nova_vm_heartbeat.runtime.throttle import LogThrottle
from nova_vm_heartbeat.runtime.throttle import Once


def test_log_throttle_counts_what_it_holds_back() -> None:
    throttle = LogThrottle(60.0)
    assert throttle.allow(0.0) == 0
    assert throttle.allow(1.0) is None
    assert throttle.allow(59.0) is None
    assert throttle.allow(60.0) == 2
    assert throttle.allow(61.0) is None


def test_once() -> None:
    once = Once()
    assert not once.clear()
    assert once.first()
    assert not once.first()
    assert once.clear()
    assert once.first()
