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

"""The shared back-off while Masakari cannot be reached."""

from __future__ import annotations

import threading

from nova_vm_heartbeat.masakari.gate import RetryGate


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_open_while_the_peer_answers():
    gate = RetryGate(1.0, 8.0, Clock())
    for _ in range(3):
        assert gate.enter()
        assert gate.leave(reached=True) is None
    assert not gate.failing


def test_delays_double_up_to_the_cap_and_reset():
    clock = Clock()
    gate = RetryGate(1.0, 4.0, clock)
    delays = []
    for _ in range(4):
        assert gate.enter()
        delay = gate.leave(reached=False)
        assert delay is not None
        delays.append(delay)
        clock.now += delay
    assert delays == [1.0, 2.0, 4.0, 4.0]
    assert gate.enter()
    gate.leave(reached=True)
    assert gate.enter()
    assert gate.leave(reached=False) == 1.0


def test_one_probe_at_a_time_once_failing():
    clock = Clock()
    gate = RetryGate(1.0, 4.0, clock)
    assert gate.enter()
    gate.leave(reached=False)
    clock.now += 1.0
    assert gate.enter()  # the probe
    entered = threading.Event()

    def second() -> None:
        if gate.enter():
            entered.set()

    waiter = threading.Thread(target=second, daemon=True)
    waiter.start()
    assert not entered.wait(0.2)  # waits for the probe's result
    gate.leave(reached=True)
    assert entered.wait(2)
    waiter.join(2)


def test_a_late_failure_of_an_older_attempt_does_not_count_twice():
    clock = Clock()
    gate = RetryGate(1.0, 8.0, clock)
    assert gate.enter() and gate.enter()  # two attempts in flight
    assert gate.leave(reached=False) == 1.0
    assert gate.leave(reached=False) is None


def test_stop_releases_waiters():
    clock = Clock()
    gate = RetryGate(60.0, 60.0, clock)
    assert gate.enter()
    gate.leave(reached=False)
    result = []
    waiter = threading.Thread(target=lambda: result.append(gate.enter()),
                              daemon=True)
    waiter.start()
    gate.stop()
    waiter.join(2)
    assert result == [False]
