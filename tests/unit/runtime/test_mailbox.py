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

"""Signals wait per instance, never dropped; operations end at their cap."""

from __future__ import annotations

import typing

from nova_vm_heartbeat.monitor import signals as sig
from nova_vm_heartbeat.runtime.mailbox import Mailbox
from nova_vm_heartbeat.runtime.mailbox import OperationCaps
from nova_vm_heartbeat.runtime.reactor import Reactor
from tests.unit.runtime import fakes

Op = sig.Operation


def test_mail_is_kept_in_order_and_announced_once_per_instance() -> None:
    mailbox = Mailbox()
    started, finished = sig.OperationStarted(Op.REBOOT), \
        sig.OperationFinished(Op.REBOOT)
    assert mailbox.put("a", started)
    assert not mailbox.put("a", finished)  # "a" is already announced
    assert mailbox.put("b", finished)
    assert len(mailbox) == 3
    assert mailbox.take("a") == [started, finished]
    assert mailbox.take("a") == []
    assert mailbox.put("a", started)  # announced again once taken


class Expiries:
    def __init__(self) -> None:
        self.seen: typing.List[typing.Tuple[str, Op, float]] = []

    def __call__(self, uuid: str, operation: Op, cap: float) -> None:
        self.seen.append((uuid, operation, cap))


def caps() -> typing.Tuple[fakes.Clock, Reactor, OperationCaps, Expiries]:
    clock = fakes.Clock()
    reactor = Reactor(clock)
    expiries = Expiries()
    return clock, reactor, OperationCaps(
        reactor, {Op.REBOOT: 900.0}, expiries), expiries


def run(clock: fakes.Clock, reactor: Reactor, seconds: float) -> None:
    clock.now += seconds
    reactor.run_once(clock.now)


def test_an_operation_whose_end_is_lost_ends_at_its_cap() -> None:
    clock, reactor, operations, expiries = caps()
    try:
        operations.note("a", sig.OperationStarted(Op.REBOOT))
        operations.note("b", sig.OperationStarted(Op.SNAPSHOT))  # no cap
        run(clock, reactor, 899.0)
        assert expiries.seen == []
        run(clock, reactor, 2.0)
        assert expiries.seen == [("a", Op.REBOOT, 900.0)]
        assert len(operations) == 0
    finally:
        reactor.close()


def test_an_operation_that_ends_or_restarts_is_not_expired() -> None:
    clock, reactor, operations, expiries = caps()
    try:
        operations.note("a", sig.OperationStarted(Op.REBOOT))
        operations.note("a", sig.OperationFinished(Op.REBOOT))
        operations.note("b", sig.OperationStarted(Op.REBOOT))
        run(clock, reactor, 600.0)
        operations.note("b", sig.OperationStarted(Op.REBOOT))  # again
        operations.note("c", sig.OperationStarted(Op.REBOOT))
        operations.forget("c")
        run(clock, reactor, 600.0)
        assert expiries.seen == []
        run(clock, reactor, 301.0)
        assert expiries.seen == [("b", Op.REBOOT, 900.0)]
    finally:
        reactor.close()
