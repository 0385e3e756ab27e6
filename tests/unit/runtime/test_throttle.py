"""Back-off and log throttling."""

from __future__ import annotations

from nova_vm_heartbeat.runtime.backoff import Backoff
from nova_vm_heartbeat.runtime.throttle import LogThrottle
from nova_vm_heartbeat.runtime.throttle import Once


def test_backoff_doubles_up_to_its_cap_and_resets() -> None:
    backoff = Backoff(0.5, 3.0)
    assert [backoff.next() for _ in range(5)] == [0.5, 1.0, 2.0, 3.0, 3.0]
    backoff.reset()
    assert backoff.next() == 0.5


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
