"""The deadline heap: one deadline per key, due keys in order."""

from __future__ import annotations

import math

from nova_vm_heartbeat.runtime.timers import DeadlineHeap


def test_due_keys_come_out_earliest_first() -> None:
    heap: DeadlineHeap[str] = DeadlineHeap()
    heap.set("b", 2.0)
    heap.set("a", 1.0)
    heap.set("c", 3.0)
    assert heap.next_deadline() == 1.0
    assert heap.pop_due(2.5) == ["a", "b"]
    assert heap.pop_due(2.5) == []
    assert len(heap) == 1 and "c" in heap


def test_setting_again_moves_the_deadline() -> None:
    heap: DeadlineHeap[str] = DeadlineHeap()
    heap.set("a", 1.0)
    heap.set("a", 5.0)
    assert heap.pop_due(4.0) == []
    assert heap.get("a") == 5.0
    heap.set("a", 0.5)
    assert heap.pop_due(1.0) == ["a"]


def test_infinity_and_discard_remove() -> None:
    heap: DeadlineHeap[str] = DeadlineHeap()
    heap.set("a", 1.0)
    heap.set("a", math.inf)
    heap.set("b", 1.0)
    heap.discard("b")
    heap.set("c", math.nan)
    assert len(heap) == 0
    assert heap.next_deadline() == math.inf
    assert heap.pop_due(10.0) == []


def test_limit() -> None:
    heap: DeadlineHeap[int] = DeadlineHeap()
    for key in range(10):
        heap.set(key, float(key))
    assert heap.pop_due(100.0, limit=3) == [0, 1, 2]
    assert len(heap) == 7


def test_stale_entries_do_not_pile_up() -> None:
    heap: DeadlineHeap[int] = DeadlineHeap()
    for rounds in range(1000):
        for key in range(10):
            heap.set(key, float(rounds * 10 + key))
    assert len(heap) == 10
    assert len(heap._heap) <= 2 * 10 + 64 + 1
    assert heap.pop_due(math.inf) == [k for k in range(10)]
