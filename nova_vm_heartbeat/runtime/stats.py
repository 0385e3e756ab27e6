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

"""Domain statistics: vCPU time and I/O counters, for the fault class.

They are sampled only for the instances that matter: the running ones
about which a verdict may soon be decided (a challenge went unanswered,
or the grace ends within one failure window: see
``InstanceMonitor.deciding_soon``), at once when an instance becomes
suspect and then every ``stats_interval``. A verdict
compares the samples taken during the silence; a healthy fleet costs no
libvirt call at all.

* The domain's CPU time comes from ``virDomainGetCPUStats`` (the total,
  from the domain's cgroup, in nanoseconds), one call per domain (about
  0.15 ms): it reads the host's accounting and never waits for QEMU.
  ``getAllDomainStats`` cannot be used for it: with libvirt 9.0 it blocks
  for as long as a domain's QEMU process is stopped (SIGSTOP), even with
  ``VIR_CONNECT_GET_ALL_DOMAINS_STATS_NOWAIT`` and only
  ``VIR_DOMAIN_STATS_CPU_TOTAL`` asked for, and a stopped QEMU is exactly
  what the CPU time must reveal (``vm_frozen``). ``virDomainGetInfo``
  does not block either, but counts in 10 ms steps: an idle guest whose
  agents are stopped can then show no CPU time at all over a second or
  two, and would look frozen. It is used only where the cgroup cannot be
  read.
* Block and network request counters (for guests without QGA) need QEMU
  itself. They come from ``domainListGetStats``, one call per domain on a
  daemon thread of its own, at most one at a time per domain and
  :data:`MAX_IO_CALLS` in all: when one blocks on a stopped QEMU, that
  domain's I/O counters are not updated, and the vCPU samples and the
  other domains' counters go on. (One call for every domain made one
  stopped QEMU hold up every silent guest's counters.)
* Each has a libvirt connection of its own, and so do the QGA calls
  (the service gives the sampler its own :class:`Hypervisor`). libvirt
  9.0 makes ``virDomainGetCPUStats`` wait while another call about the
  same domain *on the same connection* waits for its QEMU process (bulk
  statistics, an agent command): measured, it then blocks for as long as
  QEMU is stopped, and on another connection it returns in 1 ms. With a
  shared connection, a stopped QEMU's verdict had no CPU evidence.
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
#: I/O statistics calls in progress at once, at most (each may wait for
#: as long as its domain's QEMU process is stopped).
MAX_IO_CALLS = 4
#: (group, counters summed for I/O)
_IO_COUNTERS = (("block", ("rd.reqs", "wr.reqs")),
                ("net", ("rx.pkts", "tx.pkts")))


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
    """Samples domains' statistics on worker threads; never blocks."""

    def __init__(self, hypervisor: Hypervisor,
                 executor: concurrent.futures.Executor,
                 deliver: typing.Callable[[Batch], None]):
        #: For the vCPU time: nothing else may use its connection.
        self.hypervisor = hypervisor
        #: For the I/O counters, which wait for QEMU: a connection apart.
        self.io_hypervisor = Hypervisor(hypervisor.libvirt, hypervisor.uri,
                                        purpose="I/O statistics")
        self._executor = executor
        self._deliver = deliver
        self._running = threading.Event()
        self._failing = Once()
        lv = hypervisor.constant
        self.io_stats = (lv("VIR_DOMAIN_STATS_INTERFACE")
                         | lv("VIR_DOMAIN_STATS_BLOCK"))
        self.io_flags = lv("VIR_CONNECT_GET_ALL_DOMAINS_STATS_NOWAIT")
        self._io_lock = threading.Lock()
        #: The latest I/O request count of each domain (by uuid).
        self._io: typing.Dict[str, int] = {}
        #: The domains whose I/O statistics call is in progress.
        self._io_busy: typing.Set[str] = set()
        #: Of those, the ones forgotten meanwhile (their count is dropped).
        self._io_forgotten: typing.Set[str] = set()

    def sample(self, wanted: typing.AbstractSet[str]) -> None:
        """Sample the domains in ``wanted`` (uuids), unless a sample runs.

        Called on the monitor thread; the libvirt calls run elsewhere.
        """
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
            domains, batch = self.hypervisor.retrying(
                lambda: self._cpu_times(wanted))
        except self.hypervisor.error as err:
            self.hypervisor.reset(err)
            if self._failing.first():
                LOG.warning("Cannot sample domain statistics: %(err)s",
                            {"err": err})
            return []
        if self._failing.clear():
            LOG.info("Domain statistics are available again")
        self._sample_io(domains)
        return batch

    def _cpu_times(self, wanted: typing.FrozenSet[str]
                   ) -> typing.Tuple[typing.List[str], Batch]:
        """The running domains of ``wanted``, and their vCPU samples."""
        domains: typing.List[str] = []
        batch: Batch = []
        for uuid in sorted(wanted):
            try:
                domain = self.hypervisor.domain(uuid)
                cpu_ns = self._cpu_time(domain)
            except self.hypervisor.error as err:
                if not self.hypervisor.gone(err):
                    raise
                continue  # undefined or stopped meanwhile
            domains.append(uuid)
            batch.append((uuid, self._signal(uuid, cpu_ns)))
        return domains, batch

    def _cpu_time(self, domain: typing.Any) -> object:
        """The domain's CPU time in nanoseconds (see the module doc)."""
        try:
            return domain.getCPUStats(True)[0]["cpu_time"]
        except self.hypervisor.error as err:
            if not self.hypervisor.gone(err):
                raise
        except (IndexError, KeyError, TypeError):
            pass
        return domain.info()[4]

    def _signal(self, uuid: str, cpu_ns: object) -> sig.DomainStats:
        cpu = cpu_ns / 1e9 if isinstance(cpu_ns, (int, float)) else None
        with self._io_lock:
            io = self._io.get(uuid)
        return sig.DomainStats(cpu_time=cpu, io_ops=io)

    # -- I/O, on a thread that may block --------------------------------------

    def _sample_io(self, uuids: typing.List[str]) -> None:
        with self._io_lock:
            room = MAX_IO_CALLS - len(self._io_busy)
            todo = [u for u in uuids if u not in self._io_busy][:room]
            self._io_busy.update(todo)
        for uuid in todo:
            threading.Thread(target=self._run_io, args=(uuid,), daemon=True,
                             name="heartbeat-io-stats").start()

    def io_busy(self) -> typing.Set[str]:
        """The domains whose I/O statistics call is still in progress."""
        with self._io_lock:
            return set(self._io_busy)

    def _run_io(self, uuid: str) -> None:
        io = self.io_hypervisor
        count: typing.Optional[int] = None
        try:
            # libvirt takes the connection from the domain: it must be
            # this connection's.
            records = io.retrying(lambda: io.connection().domainListGetStats(
                [io.domain(uuid)], self.io_stats, self.io_flags))
            for _, record in records:
                count = _io_ops(record)
        except io.error as err:
            if not io.gone(err):
                io.reset(err)
            LOG.debug("Cannot sample the I/O statistics of %(uuid)s: "
                      "%(err)s", {"uuid": uuid, "err": err})
        finally:
            with self._io_lock:
                self._io_busy.discard(uuid)
                if uuid in self._io_forgotten:
                    self._io_forgotten.discard(uuid)
                elif count is not None:
                    self._io[uuid] = count
                else:
                    self._io.pop(uuid, None)

    def close(self) -> None:
        """Close both connections (calls still running fail, as at exit)."""
        self.hypervisor.close()
        self.io_hypervisor.close()

    def forget(self, uuid: str) -> None:
        with self._io_lock:
            self._io.pop(uuid, None)
            if uuid in self._io_busy:
                self._io_forgotten.add(uuid)
