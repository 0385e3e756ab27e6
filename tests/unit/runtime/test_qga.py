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
import threading
import typing

import pytest

from nova_vm_heartbeat.monitor import signals as sig
from nova_vm_heartbeat.runtime.hypervisor import Hypervisor
from nova_vm_heartbeat.runtime.qga import QgaProber
from tests import fakelibvirt

UUID = "11111111-1111-4111-8111-111111111111"
E = sig.AgentError


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


def test_one_call_per_domain_at_a_time() -> None:
    parked = Parked()
    harness = Harness(parked)
    harness.prober.sync(UUID, 1, 1.0)
    harness.prober.sync(UUID, 2, 1.0)  # the first still runs: skipped
    assert len(parked.work) == 1 and harness.prober.skipped == 1
    parked.run_all()
    assert harness.posted == [(UUID, sig.QgaAnswered(1))]
    harness.prober.sync(UUID, 3, 1.0)
    assert len(parked.work) == 1


def test_a_saturated_pool_is_a_host_error_not_a_miss() -> None:
    parked = Parked()
    harness = Harness(parked, workers=1)
    uuids = ["u%d" % n for n in range(10)]
    for uuid in uuids:
        harness.prober.sync(uuid, 1, 1.0)
    assert len(parked.work) == 4  # BACKLOG_PER_WORKER
    assert [s for _, s in harness.posted] \
        == [sig.QgaFailed(1, E.HOST_ERROR)] * 6
