"""Domain statistics: parsing and sampling."""

from __future__ import annotations

import logging
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
    ({"cpu.time": 2_500_000_000, "block.count": 2, "block.0.rd.reqs": 3,
      "block.0.wr.reqs": 4, "block.1.rd.reqs": 5, "net.count": 1,
      "net.0.rx.pkts": 6, "net.0.tx.pkts": 7},
     sig.DomainStats(2.5, 25)),
    ({"cpu.time": 1}, sig.DomainStats(1e-9, None)),
    ({}, sig.DomainStats(None, None)),
    ({"cpu.time": "x", "block.count": "2"}, sig.DomainStats(None, None)),
    ({"block.count": 10 ** 9, "block.0.rd.reqs": 1},
     sig.DomainStats(None, 1)),
])
def test_domain_stats(record: typing.Dict[str, typing.Any],
                      expected: sig.DomainStats) -> None:
    assert stats.domain_stats(record) == expected


class Recorder:
    def __init__(self) -> None:
        self.batches: typing.List[stats.Batch] = []

    def __call__(self, batch: stats.Batch) -> None:
        self.batches.append(batch)


class SpyConnection(fakelibvirt.Connection):
    calls: typing.List[typing.Tuple[int, int]] = []

    def getAllDomainStats(self, stats: int = 0,
                          flags: int = 0) -> typing.List[typing.Any]:
        SpyConnection.calls.append((stats, flags))
        return super().getAllDomainStats(stats, flags)


class SpyLibvirt(fakelibvirt.FakeLibvirt):
    def open(self, uri: typing.Optional[str] = None) -> fakelibvirt.Connection:
        conn = super().open(uri)
        conn.__class__ = SpyConnection
        return conn


def test_samples_the_wanted_running_domains_without_waiting() -> None:
    fake = SpyLibvirt()
    fake.add_domain(U1, "one", "<domain/>")
    fake.add_domain(U2, "two", "<domain/>")
    fake.add_domain("other", "three", "<domain/>",
                    state=fakelibvirt.C.VIR_DOMAIN_PAUSED)
    recorder = Recorder()
    sampler = stats.StatsSampler(Hypervisor(fake, "qemu:///system"),
                                 Inline(), recorder)
    sampler.sample({U1, "other"})
    (batch,) = recorder.batches
    assert [uuid for uuid, _ in batch] == [U1]
    assert isinstance(batch[0][1], sig.DomainStats)
    wanted_stats, flags = SpyConnection.calls[-1]
    assert wanted_stats == (fake.VIR_DOMAIN_STATS_CPU_TOTAL
                            | fake.VIR_DOMAIN_STATS_INTERFACE
                            | fake.VIR_DOMAIN_STATS_BLOCK)
    assert flags & fake.VIR_CONNECT_GET_ALL_DOMAINS_STATS_NOWAIT


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
