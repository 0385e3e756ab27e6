"""Domain statistics: vCPU time and I/O counters, for the fault class.

Every ``stats_interval`` one ``getAllDomainStats`` call samples every
running domain at once, on a worker thread, with
``VIR_CONNECT_GET_ALL_DOMAINS_STATS_NOWAIT``: a domain whose QEMU is
stopped (SIGSTOP) or stuck holds its own job lock, and without NOWAIT it
would block the statistics of every other domain. A sample that is still
running when the next is due makes that one skip.
"""

from __future__ import annotations

import concurrent.futures
import logging
import threading
import typing

from nova_vm_heartbeat.monitor import signals as sig
from nova_vm_heartbeat.runtime.hypervisor import Hypervisor
from nova_vm_heartbeat.runtime.throttle import Once

LOG = logging.getLogger(__name__)

Batch = typing.List[typing.Tuple[str, sig.Signal]]
#: (group, counters summed for I/O)
_IO_COUNTERS = (("block", ("rd.reqs", "wr.reqs")),
                ("net", ("rx.pkts", "tx.pkts")))


def domain_stats(record: typing.Mapping[str, typing.Any]) -> sig.DomainStats:
    """The signal for one domain's ``getAllDomainStats`` record."""
    cpu_ns = record.get("cpu.time")
    cpu = cpu_ns / 1e9 if isinstance(cpu_ns, (int, float)) else None
    return sig.DomainStats(cpu_time=cpu, io_ops=_io_ops(record))


def _io_ops(record: typing.Mapping[str, typing.Any]) -> typing.Optional[int]:
    total, seen = 0, False
    for group, counters in _IO_COUNTERS:
        count = record.get(group + ".count")
        if not isinstance(count, int):
            continue
        for index in range(min(count, 256)):
            for counter in counters:
                value = record.get("%s.%d.%s" % (group, index, counter))
                if isinstance(value, int):
                    total, seen = total + value, True
    return total if seen else None


class StatsSampler:
    """Samples every domain's statistics on a worker thread."""

    def __init__(self, hypervisor: Hypervisor,
                 executor: concurrent.futures.Executor,
                 deliver: typing.Callable[[Batch], None]):
        self.hypervisor = hypervisor
        self._executor = executor
        self._deliver = deliver
        self._running = threading.Event()
        self._failing = Once()
        lv = hypervisor.constant
        self.stats = (lv("VIR_DOMAIN_STATS_CPU_TOTAL")
                      | lv("VIR_DOMAIN_STATS_INTERFACE")
                      | lv("VIR_DOMAIN_STATS_BLOCK"))
        self.flags = (lv("VIR_CONNECT_GET_ALL_DOMAINS_STATS_ACTIVE")
                      | lv("VIR_CONNECT_GET_ALL_DOMAINS_STATS_NOWAIT"))

    def sample(self, wanted: typing.AbstractSet[str]) -> None:
        """Sample the domains in ``wanted`` (uuids), if none is running."""
        if not wanted or self._running.is_set():
            return
        self._running.set()
        try:
            self._executor.submit(self._run, frozenset(wanted))
        except RuntimeError:  # shutting down
            self._running.clear()

    def _run(self, wanted: typing.FrozenSet[str]) -> None:
        try:
            batch = self._collect(wanted)
        finally:
            self._running.clear()
        if batch:
            self._deliver(batch)

    def _collect(self, wanted: typing.FrozenSet[str]) -> Batch:
        try:
            records = self.hypervisor.connection().getAllDomainStats(
                self.stats, self.flags)
            batch = [(domain.UUIDString(), domain_stats(record))
                     for domain, record in records]
        except self.hypervisor.error as err:
            self.hypervisor.reset(err)
            if self._failing.first():
                LOG.warning("Cannot sample domain statistics: %(err)s",
                            {"err": err})
            return []
        if self._failing.clear():
            LOG.info("Domain statistics are available again")
        return [(uuid, signal) for uuid, signal in batch if uuid in wanted]
