"""Growing delays, shared by the guest agent and the host."""

from __future__ import annotations

import pytest

from nova_vm_heartbeat.protocol.backoff import Backoff


@pytest.mark.parametrize("first,cap,delays", [
    (0.5, 3.0, [0.5, 1.0, 2.0, 3.0, 3.0]),   # host sockets and libvirt
    (0.2, 1.0, [0.2, 0.4, 0.8, 1.0, 1.0]),   # the guest's port
    (5.0, 1.0, [5.0, 5.0]),                  # a cap below the first delay
])
def test_doubles_up_to_its_cap_and_resets(first: float, cap: float,
                                          delays: list[float]) -> None:
    backoff = Backoff(first, cap)
    assert [backoff.next() for _ in delays] == delays
    backoff.reset()
    assert backoff.next() == first
