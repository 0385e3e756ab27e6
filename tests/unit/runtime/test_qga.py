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

"""QGA challenges through a fake libvirt: outcomes and bounds."""

from __future__ import annotations

import concurrent.futures
import logging
import math
import threading
import time
import typing

import pytest

from nova_vm_heartbeat.monitor import signals as sig
from nova_vm_heartbeat.runtime.hypervisor import Hypervisor
from nova_vm_heartbeat.runtime.qga import QgaProber
from tests import fakelibvirt

UUID = "11111111-1111-4111-8111-111111111111"
E = sig.AgentError
QgaOutcome = typing.Union[sig.QgaAnswered, sig.QgaFailed]


class Inline(concurrent.futures.Executor):
    """Runs submitted work at once, on the caller's thread."""

    def submit(self, fn: typing.Callable[..., typing.Any],  # type: ignore
               *args: typing.Any) -> concurrent.futures.Future[typing.Any]:
        future: concurrent.futures.Future[typing.Any] = \
            concurrent.futures.Future()
        future.set_result(fn(*args))
        return future


class Harness:
    def __init__(self, executor: typing.Optional[
            concurrent.futures.Executor] = None, workers: int = 2) -> None:
        self.fake = fakelibvirt.FakeLibvirt()
        self.domain = self.fake.add_domain(UUID, "instance-1", "<domain/>")
        self.hypervisor = Hypervisor(self.fake, "qemu:///system",
                                     self.fake.libvirt_qemu)
        self.posted: typing.List[typing.Tuple[str, sig.Signal]] = []
        self.prober = QgaProber(self.hypervisor, executor or Inline(),
                                workers, self.post)

    def post(self, uuid: str, signal: sig.Signal) -> None:
        self.posted.append((uuid, signal))

    def sync(self, seq: int = 1, timeout: float = 0.5) -> sig.Signal:
        self.posted.clear()
        self.prober.sync(UUID, seq, timeout)
        (uuid, signal), = self.posted
        assert uuid == UUID
        return signal


def test_an_echoed_id_is_an_answer() -> None:
    harness = Harness()
    assert harness.sync(seq=7) == sig.QgaAnswered(7)
    assert harness.domain.qga.timeouts == [1]  # whole seconds, at least 1


class CountingHypervisor(Hypervisor):
    """Counts domain lookups (each is a round trip to libvirtd)."""

    lookups = 0

    def domain(self, uuid: str) -> typing.Any:
        self.lookups += 1
        return super().domain(uuid)


def test_the_domain_is_looked_up_once_per_connection() -> None:
    harness = Harness()
    hypervisor = CountingHypervisor(harness.fake, "qemu:///system",
                                    harness.fake.libvirt_qemu)
    harness.prober.hypervisor = hypervisor
    for seq in range(1, 6):
        assert harness.sync(seq=seq) == sig.QgaAnswered(seq)
    assert hypervisor.lookups == 1
    hypervisor.close()  # a new connection: new handles
    assert harness.sync(seq=6) == sig.QgaAnswered(6)
    assert hypervisor.lookups == 2


def test_an_error_drops_the_domain_handle() -> None:
    harness = Harness()
    hypervisor = CountingHypervisor(harness.fake, "qemu:///system",
                                    harness.fake.libvirt_qemu)
    harness.prober.hypervisor = hypervisor
    assert harness.sync(seq=1) == sig.QgaAnswered(1)
    harness.domain.qga.mode = "error"
    assert harness.sync(seq=2) == sig.QgaFailed(2, E.NOT_CONNECTED)
    harness.domain.qga.mode = "answer"
    assert harness.sync(seq=3) == sig.QgaAnswered(3)
    assert hypervisor.lookups == 2


@pytest.mark.parametrize("mode,code,message,expected", [
    ("wrong_id", 0, "", E.UNRESPONSIVE),
    ("garbage", 0, "", E.UNRESPONSIVE),
    ("vanish", 0, "", E.DOMAIN_NOT_RUNNING),
    ("error", fakelibvirt.C.VIR_ERR_AGENT_UNRESPONSIVE,
     "QEMU guest agent is not connected", E.NOT_CONNECTED),
    ("error", fakelibvirt.C.VIR_ERR_OPERATION_TIMEOUT,
     "cannot acquire state change lock", E.BUSY),
])
def test_failures_are_classified(mode: str, code: int, message: str,
                                 expected: E) -> None:
    harness = Harness()
    harness.domain.qga = fakelibvirt.Qga(mode=mode, code=code,
                                         message=message)
    assert harness.sync(seq=3) == sig.QgaFailed(3, expected)


def test_a_stopped_domain_is_not_running() -> None:
    harness = Harness()
    harness.domain.run_state = fakelibvirt.C.VIR_DOMAIN_SHUTOFF
    assert harness.sync() == sig.QgaFailed(1, E.DOMAIN_NOT_RUNNING)


def test_a_hanging_agent_times_out_as_unresponsive() -> None:
    harness = Harness()
    harness.domain.qga.mode = "hang"
    threading.Timer(0.1, harness.fake.release_hangs).start()
    assert harness.sync() == sig.QgaFailed(1, E.UNRESPONSIVE)


def test_libvirtd_restart_reconnects(
        caplog: pytest.LogCaptureFixture) -> None:
    harness = Harness()
    assert harness.sync(1) == sig.QgaAnswered(1)
    harness.fake.stop_daemon()
    with caplog.at_level(logging.INFO):
        assert harness.sync(2) == sig.QgaFailed(2, E.HOST_ERROR)
        assert harness.sync(3) == sig.QgaFailed(3, E.HOST_ERROR)
        harness.fake.start_daemon()
        assert harness.sync(4) == sig.QgaAnswered(4)
    assert caplog.text.count("broke") == 1
    assert caplog.text.count("again") == 1
    assert len(harness.fake.opened) == 2


def test_a_restart_between_two_calls_costs_no_challenge(
        caplog: pytest.LogCaptureFixture) -> None:
    # The connection learns of the restart at the next call, a minute
    # later perhaps: that call is made again on a new connection.
    harness = Harness()
    assert harness.sync(1) == sig.QgaAnswered(1)
    harness.fake.stop_daemon()
    harness.fake.start_daemon()
    with caplog.at_level(logging.INFO):
        assert harness.sync(2) == sig.QgaAnswered(2)
    assert "connection for QEMU guest agent calls" not in caplog.text
    assert caplog.text.count("broke") == 1
    assert caplog.text.count("Connected to libvirt at qemu:///system "
                             "again") == 1
    assert len(harness.fake.opened) == 2
    harness.domain.qga.mode = "error"  # an error about the domain:
    assert harness.sync(3) == sig.QgaFailed(3, E.NOT_CONNECTED)
    assert len(harness.fake.opened) == 2  # not a reason to reconnect


def test_failures_are_logged_once_per_change(
        caplog: pytest.LogCaptureFixture) -> None:
    harness = Harness()
    harness.domain.qga = fakelibvirt.Qga(mode="error")
    with caplog.at_level(logging.DEBUG):
        for seq in range(5):
            harness.sync(seq)
        harness.domain.qga.mode = "answer"
        harness.sync(9)
        harness.domain.qga.mode = "error"
        harness.sync(10)
    levels = [r.levelname for r in caplog.records
              if "not_connected" in r.getMessage()]
    # Failed, back, failed: a flapping agent is noted once a minute.
    assert levels == ["INFO", "DEBUG", "DEBUG"]


class Parked(concurrent.futures.Executor):
    """Keeps submitted work until the test runs it."""

    def __init__(self) -> None:
        self.work: typing.List[typing.Tuple[typing.Any, typing.Tuple[
            typing.Any, ...]]] = []

    def submit(self, fn: typing.Callable[..., typing.Any],  # type: ignore
               *args: typing.Any) -> concurrent.futures.Future[typing.Any]:
        self.work.append((fn, args))
        return concurrent.futures.Future()

    def run_all(self) -> None:
        work, self.work = self.work, []
        for fn, args in work:
            fn(*args)


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def parked_harness(workers: int = 1) -> typing.Tuple[
        Harness, Parked, Clock]:
    parked, clock = Parked(), Clock()
    harness = Harness(parked, workers=workers)
    harness.prober = QgaProber(harness.hypervisor, parked, workers,
                               harness.post, clock=clock)
    return harness, parked, clock


def test_one_call_per_domain_at_a_time() -> None:
    harness, parked, _ = parked_harness()
    harness.prober.sync(UUID, 1, 1.0)
    harness.prober.sync(UUID, 2, 1.0)  # replaces 1, which waited
    assert harness.posted == [(UUID, sig.QgaFailed(1, E.NOT_SAMPLED))]
    assert len(parked.work) == 1  # one worker
    harness.posted.clear()
    parked.run_all()
    assert harness.posted == [(UUID, sig.QgaAnswered(2))]


def test_a_running_call_makes_the_next_one_skipped() -> None:
    harness = Harness(concurrent.futures.ThreadPoolExecutor(2))
    harness.domain.qga.mode = "hang"
    try:
        harness.prober.sync(UUID, 1, 1.0)
        wait_for(lambda: harness.domain.qga.calls == 1)
        harness.prober.sync(UUID, 2, 1.0)
        assert harness.prober.skipped == 1
    finally:
        harness.fake.release_hangs()
    wait_for(lambda: len(harness.posted) == 1)
    assert harness.posted == [(UUID, sig.QgaFailed(1, E.UNRESPONSIVE))]


def test_a_call_that_cannot_start_in_time_is_not_sampled() -> None:
    """No worker within half the timeout: unknown, never a miss."""
    harness, parked, clock = parked_harness()
    harness.prober.sync("a", 1, 1.0)
    harness.prober.sync("b", 1, 1.0)
    clock.now += 0.6  # both waited longer than half their timeout
    parked.run_all()
    assert sorted(harness.posted) == [
        ("a", sig.QgaFailed(1, E.NOT_SAMPLED)),
        ("b", sig.QgaFailed(1, E.NOT_SAMPLED))]
    assert harness.prober.not_sampled == 2
    assert harness.domain.qga.calls == 0


def test_waiting_calls_expire_even_while_every_worker_is_held() -> None:
    harness, parked, clock = parked_harness()
    harness.prober.sync("a", 1, 1.0)
    clock.now += 0.6
    harness.prober.sync("b", 1, 1.0)  # the loop's next call notices
    assert harness.posted == [("a", sig.QgaFailed(1, E.NOT_SAMPLED))]


def wait_for(predicate: typing.Callable[[], bool],
             timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "still false"
        time.sleep(0.01)


def test_stuck_agents_cannot_fail_or_delay_another_instance() -> None:
    """16 agents that never answer, 4 workers, and one healthy agent.

    Before, the 16 filled the pool's backlog and the healthy instance's
    challenges failed with a host error (so a dead heartbeat agent beside
    a live qemu-ga was judged guest_hung). Now the healthy one is never
    failed; until every stuck agent has held a worker once (16 / 4 calls
    of a whole second each) its challenges may go unsampled, and after
    that every one is answered at once.
    """
    fake = fakelibvirt.FakeLibvirt()
    stuck = ["00000000-0000-4000-8000-%012d" % n for n in range(16)]
    for n, uuid in enumerate(stuck):
        fake.add_domain(uuid, "stuck-%d" % n, "<domain/>",
                        qga=fakelibvirt.Qga(mode="hang"))
    fake.add_domain(UUID, "victim", "<domain/>")
    hypervisor = Hypervisor(fake, "qemu:///system", fake.libvirt_qemu)
    posted: typing.List[typing.Tuple[str, sig.Signal, float]] = []
    lock = threading.Lock()

    def post(uuid: str, signal: sig.Signal) -> None:
        with lock:
            posted.append((uuid, signal, time.monotonic()))

    pool = concurrent.futures.ThreadPoolExecutor(4)
    prober = QgaProber(hypervisor, pool, 4, post)
    timeout, gap = 1.0, 0.5
    warm_up = math.ceil(len(stuck) / 4) * math.ceil(timeout) / gap + 1
    rounds = int(warm_up) + 4
    sent: typing.Dict[int, float] = {}
    try:
        for seq in range(1, rounds + 1):
            for uuid in stuck:
                prober.sync(uuid, seq, timeout)
            sent[seq] = time.monotonic()
            prober.sync(UUID, seq, timeout)
            time.sleep(gap)
        time.sleep(timeout)
    finally:
        fake.release_hangs()
        pool.shutdown(wait=True)
    outcomes = [(u, typing.cast(QgaOutcome, s), at) for u, s, at in posted]
    victim = {s.seq: (s, at) for u, s, at in outcomes if u == UUID}
    others = [s for u, s, _ in outcomes if u != UUID]
    print("victim:", {seq: (type(s).__name__, round(at - sent[seq], 3))
                      for seq, (s, at) in sorted(victim.items())})
    # Never a failure for the healthy instance, never a host error.
    assert all(isinstance(s, sig.QgaAnswered) or s.error is E.NOT_SAMPLED
               for s, _ in victim.values())
    assert all(isinstance(s, sig.QgaFailed) and s.error in (
        E.UNRESPONSIVE, E.NOT_SAMPLED) for s in others)
    # Once the stuck agents are known, every challenge of the healthy
    # instance is answered, well within its timeout.
    for seq in range(int(warm_up) + 1, rounds + 1):
        signal, at = victim[seq]
        assert isinstance(signal, sig.QgaAnswered), (seq, signal)
        assert at - sent[seq] < timeout / 2
    # And the stuck ones never held every worker.
    assert prober._running_suspect <= 3
