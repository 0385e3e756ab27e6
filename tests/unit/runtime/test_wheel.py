# Licensed under the Apache License, Version 2.0 (the "License"); you may
# not use this file except in compliance with the License. You may obtain
# a copy of the License at
#
#      http://www.apache.org/licenses/LICENSE-2.0
#
# Unless required by applicable law or agreed to in writing, software
# distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
# WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the
# License for the specific language governing permissions and limitations
# under the License.

"""The fleet's deadlines on a grid: rounding, moving, popping in order."""

from __future__ import annotations

import math

import pytest

from nova_vm_heartbeat.runtime.timers import DeadlineWheel


def test_deadlines_round_up_to_the_grain() -> None:
    wheel: DeadlineWheel[str] = DeadlineWheel(0.02)
    wheel.set("a", 10.001)
    wheel.set("b", 10.02)  # already on the grid: stays
    assert wheel.get("a") == pytest.approx(10.02)
    assert wheel.get("b") == pytest.approx(10.02)
    assert wheel.next_deadline() == pytest.approx(10.02)
    assert len(wheel) == 2 and "a" in wheel and "c" not in wheel


def test_keys_move_and_pop_in_order() -> None:
    wheel: DeadlineWheel[str] = DeadlineWheel(0.1)
    for key, when in (("a", 1.0), ("b", 1.0), ("c", 0.5), ("d", 2.0)):
        wheel.set(key, when)
    wheel.set("d", 0.45)  # moves into c's slot, after c
    wheel.set("a", 3.0)
    assert wheel.pop_due(0.49) == []
    assert wheel.pop_due(1.0) == ["c", "d", "b"]
    assert wheel.next_deadline() == pytest.approx(3.0)
    assert wheel.pop_due(10.0) == ["a"]
    assert wheel.next_deadline() == math.inf and len(wheel) == 0


def test_limit_leaves_the_rest_due() -> None:
    wheel: DeadlineWheel[int] = DeadlineWheel(0.02)
    for key in range(5):
        wheel.set(key, 1.0)
    assert wheel.pop_due(1.0, limit=3) == [0, 1, 2]
    assert wheel.pop_due(1.0, limit=3) == [3, 4]


def test_infinity_and_nan_remove_the_key() -> None:
    wheel: DeadlineWheel[str] = DeadlineWheel(0.02)
    wheel.set("a", 1.0)
    wheel.set("a", math.inf)
    assert "a" not in wheel
    wheel.set("b", 1.0)
    wheel.set("b", math.nan)
    wheel.discard("missing")
    assert wheel.next_deadline() == math.inf


def test_a_slot_emptied_and_used_again() -> None:
    wheel: DeadlineWheel[str] = DeadlineWheel(1.0)
    wheel.set("a", 5.0)
    wheel.set("a", 7.0)  # slot 5 empties
    wheel.set("b", 5.0)  # and is used again
    assert wheel.pop_due(6.0) == ["b"]
    assert wheel.pop_due(7.0) == ["a"]
    assert wheel.pop_due(100.0) == []
