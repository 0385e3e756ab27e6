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

"""One heartbeat channel over a real UNIX socket, on a real reactor."""

from __future__ import annotations

import pathlib
import socket
import time
import typing

import pytest

from nova_vm_heartbeat.monitor import signals as sig
from nova_vm_heartbeat import protocol
from nova_vm_heartbeat.runtime import channel as channel_mod
from nova_vm_heartbeat.runtime.channel import ChannelState
from nova_vm_heartbeat.runtime.channel import HeartbeatChannel
from nova_vm_heartbeat.runtime.reactor import Reactor
from nova_vm_heartbeat.runtime.session import Terms

HB = sig.Channel.HEARTBEAT
TERMS = Terms(1.0, 0.5, 60)
HELLO = (b'{"v":1,"type":"hello","min_v":1,"agent":"a",'
         b'"agent_version":"1"}\n')


class Rig:
    def __init__(self, path: str, read_budget: int = 65536,
                 **options: typing.Any) -> None:
        self.path = path
        self.reactor = Reactor(time.monotonic)
        self.signals: typing.List[sig.Signal] = []
        self.channel = HeartbeatChannel(
            self.reactor, "test", "instance-1", path, TERMS,
            limits=protocol.DEFAULT_LIMITS, read_budget=read_budget,
            reconnect_max=1.0, deliver=self.signals.append, **options)
        self.listener: typing.Optional[socket.socket] = None
        self.peer: typing.Optional[socket.socket] = None

    def listen(self) -> None:
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.listener.bind(self.path)
        self.listener.listen(1)

    def accept(self) -> socket.socket:
        assert self.listener is not None
        self.spin(lambda: self.channel.state is ChannelState.CONNECTED)
        self.peer, _ = self.listener.accept()
        self.peer.settimeout(2.0)
        return self.peer

    def spin(self, done: typing.Callable[[], bool],
             timeout: float = 5.0) -> None:
        deadline = time.monotonic() + timeout
        while not done():
            assert time.monotonic() < deadline, "timed out"
            self.reactor.run_once(time.monotonic() + 0.01)

    def run_for(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            self.reactor.run_once(min(deadline, time.monotonic() + 0.05))

    def close(self) -> None:
        self.channel.close()
        for sock in (self.peer, self.listener):
            if sock is not None:
                sock.close()
        self.reactor.close()


@pytest.fixture
def rig(tmp_path: pathlib.Path) -> typing.Iterator[Rig]:
    made = Rig(str(tmp_path / "hb.sock"))
    try:
        yield made
    finally:
        made.close()


def test_connects_once_the_socket_appears_and_resyncs(rig: Rig) -> None:
    rig.channel.start()
    assert rig.channel.state is ChannelState.WAITING
    rig.run_for(0.2)
    rig.listen()
    peer = rig.accept()
    assert peer.recv(10) == b"\xff"
    assert rig.signals == [sig.ChannelConnected(HB)]
    peer.sendall(HELLO)
    rig.spin(lambda: len(rig.signals) == 2)
    assert rig.signals[-1] == sig.AgentGreeted("")
    assert b'"type":"welcome"' in peer.recv(4096)
    rig.channel.challenge(1)
    assert b'"type":"challenge","seq":1' in peer.recv(4096)


def test_end_of_stream_is_a_lost_channel_and_reconnects(rig: Rig) -> None:
    rig.listen()
    rig.channel.start()
    peer = rig.accept()
    peer.close()
    rig.spin(lambda: sig.ChannelLost(HB, closed_by_qemu=True)
             in rig.signals)
    assert rig.channel.state is ChannelState.WAITING
    rig.accept()
    assert rig.channel.counters.connects == 2


def test_reads_stay_within_the_budget(tmp_path: pathlib.Path) -> None:
    rig = Rig(str(tmp_path / "hb.sock"), read_budget=4096)
    try:
        rig.listen()
        rig.channel.start()
        peer = rig.accept()
        peer.setblocking(False)
        sent = 0
        try:
            while sent < 1 << 20:
                sent += peer.send(b"x" * 65536)
        except BlockingIOError:
            pass
        began = time.monotonic()
        rig.run_for(1.5)
        windows = int(time.monotonic() - began) + 2
        counters = rig.channel.counters
        assert 0 < counters.bytes_in <= windows * 4096
        assert counters.throttled >= 1
        assert rig.channel.buffered_bytes \
            <= protocol.DEFAULT_LIMITS.max_buffer_bytes
    finally:
        rig.close()


class CpuClock:
    """Each read of the channel "costs" ``per_read`` CPU seconds."""

    def __init__(self, per_read: float) -> None:
        self.per_read = per_read
        self.now = 0.0
        self.calls = 0

    def __call__(self) -> float:
        self.calls += 1
        if self.calls % 2 == 0:  # the end of a read
            self.now += self.per_read
        return self.now


def _flood(peer: socket.socket, data: bytes) -> None:
    """Fill the socket's buffers with ``data``, repeated."""
    peer.setblocking(False)
    try:
        while True:
            peer.send(data)
    except BlockingIOError:
        pass


def test_cpu_budget_pauses_reads_but_not_challenges(
        tmp_path: pathlib.Path) -> None:
    clock = CpuClock(per_read=0.005)
    rig = Rig(str(tmp_path / "hb.sock"), read_budget=1 << 30,
              cpu_budget=0.01, cpu_clock=clock)
    try:
        rig.listen()
        rig.channel.start()
        peer = rig.accept()
        peer.sendall(HELLO)
        rig.spin(lambda: rig.channel.session.established)
        _flood(peer, b"\x00garbage\n" * 4096)
        began = time.monotonic()
        rig.run_for(1.5)
        elapsed = time.monotonic() - began
        counters = rig.channel.counters
        reads = clock.calls // 2
        # One second of burst and 10 ms a second after it, 5 ms a read;
        # one read may overdraw.
        assert reads <= (1 + elapsed) * 0.01 / 0.005 + 2
        assert counters.cpu_throttled >= 1
        # (the hello, a small read, is charged its wall-clock time)
        assert counters.cpu_seconds == pytest.approx(reads * 0.005,
                                                     abs=0.002)
        assert rig.channel.snapshot().abuse()["cpu_budget"] \
            == counters.cpu_throttled
        # Paused or not, the host keeps challenging the guest: its
        # judgement goes on.
        rig.channel.challenge(7)
        peer.setblocking(True)
        seen = b""
        while b'"seq":7' not in seen:
            seen += peer.recv(65536)
    finally:
        rig.close()


def test_cpu_budget_bounds_real_cpu_time(tmp_path: pathlib.Path) -> None:
    budget = 0.005
    rig = Rig(str(tmp_path / "hb.sock"), read_budget=1 << 30,
              cpu_budget=budget)
    try:
        rig.listen()
        rig.channel.start()
        peer = rig.accept()
        worst = (b"[" * 9 + b'"' + b'\\"' * 8187 + b"\n") * 8
        began = time.monotonic()
        for _ in range(10):
            _flood(peer, worst)
            rig.run_for(0.2)
        elapsed = time.monotonic() - began
        spent = rig.channel.counters.cpu_seconds
        # The budget, its one-second burst, and the last read's overdraft
        # (one 64 KiB read of the worst lines costs well under 50 ms).
        assert spent <= budget * (elapsed + 1) + 0.05
        assert rig.channel.counters.cpu_throttled >= 1
    finally:
        rig.close()


def test_a_guest_that_never_reads_gets_its_messages_dropped(
        rig: Rig) -> None:
    rig.listen()
    rig.channel.start()
    peer = rig.accept()
    peer.sendall(HELLO)
    rig.spin(lambda: any(isinstance(s, sig.AgentGreeted)
                         for s in rig.signals))
    for seq in range(1, 40000):
        rig.channel.challenge(seq)
    assert rig.channel.counters.dropped_out > 0
    assert rig.channel.buffered_bytes <= channel_mod.MAX_OUTGOING
    assert rig.channel.state is ChannelState.CONNECTED


def test_new_terms_ask_the_guest_to_start_over(rig: Rig) -> None:
    rig.listen()
    rig.channel.start()
    peer = rig.accept()
    assert peer.recv(10) == b"\xff"
    rig.channel.configure(TERMS)  # unchanged: nothing
    rig.channel.configure(Terms(2.0, 1.0, 60))
    assert peer.recv(10) == b"\xff"
    assert rig.signals[-1] == sig.ChannelLost(HB)


def test_nudge_and_close(rig: Rig) -> None:
    rig.channel.start()
    rig.listen()
    rig.channel.nudge()
    assert rig.channel.state is ChannelState.CONNECTED
    rig.channel.close()
    assert rig.channel.state is ChannelState.CLOSED
    rig.run_for(0.6)
    assert rig.channel.counters.connects == 1
