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

"""Domain statistics: parsing and sampling."""

from __future__ import annotations

import logging
import threading
import time
import typing

import pytest

from nova_vm_heartbeat.monitor import signals as sig
from nova_vm_heartbeat.runtime.hypervisor import Hypervisor
from nova_vm_heartbeat.runtime import stats
from tests import fakelibvirt
from tests.unit.runtime.test_qga import Inline
from tests.unit.runtime.test_qga import Parked

U1 = "11111111-1111-4111-8111-111111111111"
U2 = "22222222-2222-4222-8222-222222222222"


@pytest.mark.parametrize("record,expected", [
    ({"block.count": 2, "block.0.rd.reqs": 3, "block.0.wr.reqs": 4,
      "block.1.rd.reqs": 5, "net.count": 1, "net.0.rx.pkts": 6,
      "net.0.tx.pkts": 7}, 25),
    ({}, None),
    ({"block.count": "2", "block.0.rd.reqs": 1}, None),
    ({"block.count": 10 ** 9, "block.0.rd.reqs": 1}, 1),
])
def test_io_ops(record: typing.Dict[str, typing.Any],
                expected: typing.Optional[int]) -> None:
    assert stats._io_ops(record) == expected


class Recorder:
    def __init__(self) -> None:
        self.batches: typing.List[stats.Batch] = []

    def __call__(self, batch: stats.Batch) -> None:
        self.batches.append(batch)


def wait_for(predicate: typing.Callable[[], bool]) -> None:
    deadline = time.monotonic() + 5
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def test_samples_vcpu_time_per_domain_and_io_in_the_background() -> None:
    fake = fakelibvirt.FakeLibvirt()
    one = fake.add_domain(U1, "one", "<domain/>", cpu_rate=1.0)
    recorder = Recorder()
    sampler = stats.StatsSampler(Hypervisor(fake, "qemu:///system"),
                                 Inline(), recorder)
    sampler.sample({U1, "gone"})
    (batch,) = recorder.batches
    ((uuid, first),) = batch
    assert uuid == U1 and isinstance(first, sig.DomainStats)
    assert first.cpu_time is not None and first.io_ops is None
    # The I/O counters arrive on their own thread, for the next sample.
    wait_for(lambda: not sampler.io_busy())
    sampler.sample({U1})
    ((_, second),) = recorder.batches[-1]
    assert isinstance(second, sig.DomainStats)
    assert second.io_ops is not None and second.io_ops >= 0
    assert second.cpu_time is not None
    assert second.cpu_time > first.cpu_time
    assert one.qemu_running.is_set()


def test_a_stopped_qemu_freezes_vcpu_time_and_blocks_nothing() -> None:
    fake = fakelibvirt.FakeLibvirt()
    domain = fake.add_domain(U1, "one", "<domain/>", cpu_rate=1.0)
    recorder = Recorder()
    sampler = stats.StatsSampler(Hypervisor(fake, "qemu:///system"),
                                 Inline(), recorder)
    domain.stop_qemu()
    try:
        samples = []
        for _ in range(3):
            started = time.monotonic()
            sampler.sample({U1})  # the I/O thread blocks; this does not
            # (libvirt makes it wait if both share a connection).
            assert time.monotonic() - started < 5
            ((_, signal),) = recorder.batches[-1]
            assert isinstance(signal, sig.DomainStats)
            samples.append(signal.cpu_time)
            time.sleep(0.02)
        assert len(set(samples)) == 1
        assert sampler.io_busy() == {U1}  # still blocked on QEMU
    finally:
        domain.cont_qemu()
    wait_for(lambda: not sampler.io_busy())


def test_a_stopped_qemu_does_not_hold_up_the_io_counters_of_others() -> None:
    """Each domain's I/O counters come from a call of its own.

    With one call for every sampled domain, a stopped QEMU held up the
    counters of every other silent guest: a guest without QGA whose agent
    died while it still did I/O (``agent_failure``) read as hung.
    """
    fake = fakelibvirt.FakeLibvirt()
    stopped = fake.add_domain(U1, "one", "<domain/>", cpu_rate=1.0)
    fake.add_domain(U2, "two", "<domain/>", cpu_rate=1.0)
    recorder = Recorder()
    sampler = stats.StatsSampler(Hypervisor(fake, "qemu:///system"),
                                 Inline(), recorder)
    stopped.stop_qemu()
    try:
        sampler.sample({U1, U2})
        wait_for(lambda: sampler.io_busy() == {U1})
        sampler.sample({U1, U2})
        io = {uuid: signal.io_ops for uuid, signal in recorder.batches[-1]
              if isinstance(signal, sig.DomainStats)}
        assert io[U1] is None and io[U2] is not None
        # Never more than one call at a time per domain.
        sampler.sample({U1, U2})
        assert sampler.io_busy() == {U1}
    finally:
        stopped.cont_qemu()
    wait_for(lambda: not sampler.io_busy())


def test_a_domain_forgotten_during_its_io_call_leaves_no_count() -> None:
    fake = fakelibvirt.FakeLibvirt()
    domain = fake.add_domain(U1, "one", "<domain/>", cpu_rate=1.0)
    sampler = stats.StatsSampler(Hypervisor(fake, "qemu:///system"),
                                 Inline(), Recorder())
    domain.stop_qemu()
    sampler.sample({U1})
    wait_for(lambda: sampler.io_busy() == {U1})
    sampler.forget(U1)
    domain.cont_qemu()
    wait_for(lambda: not sampler.io_busy())
    assert sampler._io == {}


def test_io_calls_in_progress_are_bounded() -> None:
    fake = fakelibvirt.FakeLibvirt()
    uuids = ["%08d-0000-4000-8000-000000000000" % n for n in range(12)]
    for n, uuid in enumerate(uuids):
        fake.add_domain(uuid, "d%d" % n, "<domain/>").stop_qemu()
    sampler = stats.StatsSampler(Hypervisor(fake, "qemu:///system"),
                                 Inline(), Recorder())
    try:
        sampler.sample(set(uuids))
        wait_for(lambda: len(sampler.io_busy()) == stats.MAX_IO_CALLS)
        sampler.sample(set(uuids))
        assert len(sampler.io_busy()) == stats.MAX_IO_CALLS
    finally:
        for uuid in uuids:
            fake.daemon.domains[uuid].cont_qemu()
    wait_for(lambda: not sampler.io_busy())


def test_an_agent_call_waiting_for_qemu_does_not_delay_samples() -> None:
    """QGA calls and CPU samples use separate connections.

    With one connection, libvirt makes the CPU sample of a stopped QEMU
    wait for the agent call in progress about it: the verdict then had
    no CPU evidence and called a stopped QEMU a hung guest.
    """
    fake = fakelibvirt.FakeLibvirt()
    domain = fake.add_domain(U1, "one", "<domain/>", cpu_rate=1.0)
    domain.qga.mode = "hang"
    qga = Hypervisor(fake, "qemu:///system", fake.libvirt_qemu)
    recorder = Recorder()
    sampler = stats.StatsSampler(Hypervisor(fake, "qemu:///system"),
                                 Inline(), recorder)
    hanging = threading.Thread(target=lambda: _quietly(
        qga.agent_command, qga.domain(U1), "{}", 2))
    hanging.start()
    try:
        wait_for(lambda: domain.qga.calls == 1)
        started = time.monotonic()
        sampler.sample({U1})
        assert time.monotonic() - started < 1
        assert len(recorder.batches) == 1
    finally:
        fake.daemon.release.set()
        hanging.join()


def _quietly(call: typing.Callable[..., object], *args: object) -> None:
    try:
        call(*args)
    except fakelibvirt.libvirtError:
        pass


def test_one_sample_at_a_time_and_none_for_nobody() -> None:
    fake = fakelibvirt.FakeLibvirt()
    fake.add_domain(U1, "one", "<domain/>")
    parked, recorder = Parked(), Recorder()
    sampler = stats.StatsSampler(Hypervisor(fake, "qemu:///system"),
                                 parked, recorder)
    sampler.sample(set())
    sampler.sample({U1})
    sampler.sample({U1})
    assert len(parked.work) == 1
    parked.run_all()
    sampler.sample({U1})
    assert len(parked.work) == 1


def test_libvirtd_down_is_logged_once(
        caplog: pytest.LogCaptureFixture) -> None:
    fake = fakelibvirt.FakeLibvirt()
    fake.add_domain(U1, "one", "<domain/>")
    recorder = Recorder()
    sampler = stats.StatsSampler(Hypervisor(fake, "qemu:///system"),
                                 Inline(), recorder)
    fake.stop_daemon()
    with caplog.at_level(logging.INFO):
        for _ in range(3):
            sampler.sample({U1})
        fake.start_daemon()
        sampler.sample({U1})
    assert len(recorder.batches) == 1
    assert caplog.text.count("Cannot sample") == 1
    assert caplog.text.count("available again") == 1


def test_a_restart_between_two_samples_costs_no_sample(
        caplog: pytest.LogCaptureFixture) -> None:
    fake = fakelibvirt.FakeLibvirt()
    fake.add_domain(U1, "one", "<domain/>", cpu_rate=1.0)
    recorder = Recorder()
    sampler = stats.StatsSampler(
        Hypervisor(fake, "qemu:///system", purpose="vCPU statistics"),
        Inline(), recorder)
    sampler.sample({U1})
    wait_for(lambda: not sampler.io_busy())
    assert len(fake.opened) == 2  # one connection each for CPU and I/O
    fake.stop_daemon()
    fake.start_daemon()
    with caplog.at_level(logging.INFO):
        sampler.sample({U1})
        wait_for(lambda: not sampler.io_busy())
    assert len(recorder.batches) == 2
    ((_, latest),) = recorder.batches[-1]
    assert isinstance(latest, sig.DomainStats)
    assert latest.cpu_time is not None and latest.io_ops is not None
    assert "Cannot sample" not in caplog.text
    for purpose in ("vCPU statistics", "I/O statistics"):
        assert caplog.text.count("connection for %s to qemu:///system "
                                 "broke" % purpose) == 1
        assert caplog.text.count("again for %s" % purpose) == 1
    assert len(fake.opened) == 4
