"""Suspension reasons and their caps."""

from __future__ import annotations

from nova_vm_heartbeat.monitor.suspensions import Suspensions


def test_reasons_end_or_expire() -> None:
    suspensions = Suspensions()
    assert not suspensions
    suspensions.begin("operation:reboot", 100.0)
    suspensions.begin("maintenance", 50.0)
    assert suspensions.next_deadline() == 50.0
    assert suspensions.active(40.0) == {"operation:reboot": 60.0,
                                        "maintenance": 10.0}
    assert suspensions.expire(50.0) == ["maintenance"]
    assert suspensions.end("operation:reboot")
    assert not suspensions.end("operation:reboot")
    assert not suspensions


def test_end_matching() -> None:
    suspensions = Suspensions()
    for reason in ("bye:reboot", "bye:shutdown", "maintenance"):
        suspensions.begin(reason, 10.0)
    suspensions.end_matching("bye:")
    assert list(suspensions.active(0.0)) == ["maintenance"]
