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

"""The selector loop: timers, handed-over work, sockets, stalls."""

from __future__ import annotations

import logging
import selectors
import socket
import threading
import time
import typing

import pytest

from nova_vm_heartbeat.runtime.reactor import Reactor


@pytest.fixture
def reactor() -> typing.Iterator[Reactor]:
    loop = Reactor(time.monotonic)
    try:
        yield loop
    finally:
        loop.close()


def test_timers_run_in_order_and_can_be_cancelled(reactor: Reactor) -> None:
    ran: typing.List[str] = []
    now = time.monotonic()
    reactor.call_at(now + 0.02, lambda: ran.append("second"))
    reactor.call_at(now + 0.01, lambda: ran.append("first"))
    cancelled = reactor.call_at(now + 0.01, lambda: ran.append("never"))
    reactor.cancel(cancelled)
    reactor.cancel(None)
    deadline = now + 1.0
    while len(ran) < 2 and time.monotonic() < deadline:
        reactor.run_once()
    assert ran == ["first", "second"]


def test_work_from_another_thread_wakes_the_loop(reactor: Reactor) -> None:
    ran = threading.Event()
    threading.Timer(0.05, lambda: reactor.call_soon(ran.set)).start()
    began = time.monotonic()
    while not ran.is_set() and time.monotonic() - began < 2.0:
        reactor.run_once()
    assert ran.is_set()
    assert time.monotonic() - began < 0.45  # woken, not the 0.5 s tick


def test_a_full_inbox_drops_and_counts(reactor: Reactor) -> None:
    small = Reactor(time.monotonic, max_inbox=2)
    try:
        assert small.call_soon(lambda: None)
        assert small.call_soon(lambda: None)
        assert not small.call_soon(lambda: None)
        assert small.call_soon(lambda: None, force=True)
        assert small.dropped == 1
    finally:
        small.close()


def test_a_failing_callback_is_logged_not_raised(
        reactor: Reactor, caplog: pytest.LogCaptureFixture) -> None:
    ran: typing.List[int] = []

    def broken() -> None:
        raise ValueError("bug")

    with caplog.at_level(logging.ERROR):
        reactor.call_soon(broken)
        reactor.call_soon(broken)
        reactor.call_soon(lambda: ran.append(1))
        reactor.run_once()
    assert ran == [1]
    assert caplog.text.count("ValueError: bug") == 1  # once a minute


def test_sockets(reactor: Reactor) -> None:
    left, right = socket.socketpair()
    got: typing.List[bytes] = []
    try:
        reactor.watch(left, selectors.EVENT_READ,
                      lambda events: got.append(left.recv(100)))
        right.sendall(b"ping")
        reactor.run_once()
        assert got == [b"ping"]
        reactor.watch(left, 0, lambda events: None)
        right.sendall(b"more")
        reactor.run_once(time.monotonic() + 0.01)
        assert got == [b"ping"]
        reactor.unwatch(left)  # twice is fine
    finally:
        left.close()
        right.close()


class SteppedClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        self.now += 5.0  # every reading is 5 s later: a stalled host
        return self.now


def test_lateness_is_measured() -> None:
    loop = Reactor(SteppedClock())
    try:
        assert loop.run_once(0.0) >= 5.0
    finally:
        loop.close()
