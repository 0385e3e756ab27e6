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

"""The monitor service: one thread, one loop, every instance of the host.

:class:`MonitorService` wires the parts together and owns the threads:

* the **monitor thread** runs one :class:`~.reactor.Reactor` loop for all
  heartbeat sockets, the wake-up pipe and the timers, and a
  :class:`~.fleet.Fleet` whose single deadline heap says when each
  instance's monitor is next due;
* a **host pool** of two worker threads asks the instance source (every
  ``refresh_interval``) and samples domain statistics (every
  ``stats_interval``), so that neither blocks the loop;
* a **QGA pool** of ``qga_workers`` threads runs the blocking QEMU guest
  agent calls;
* standalone only, the **libvirt event thread** (:mod:`.libvirt_events`).

Everything reaches the monitors on the monitor thread: the other threads
hand results over with :meth:`MonitorService.post` (or the reactor's
``call_soon``), which never blocks.
"""

from __future__ import annotations

import concurrent.futures
import datetime
import functools
import logging
import random
import threading
import time
import typing

from nova_vm_heartbeat.common.log_throttle import LogThrottle
from nova_vm_heartbeat import exception
from nova_vm_heartbeat.monitor import signals as sig
from nova_vm_heartbeat.monitor import verdicts as vd
from nova_vm_heartbeat.runtime.channel import HeartbeatChannel
from nova_vm_heartbeat.runtime.endpoints import EndpointFactory
from nova_vm_heartbeat.runtime.endpoints import Endpoints
from nova_vm_heartbeat.runtime.episode_store import EpisodeStore
from nova_vm_heartbeat.runtime.fleet import Channel
from nova_vm_heartbeat.runtime.fleet import Deliver
from nova_vm_heartbeat.runtime.fleet import Fleet
from nova_vm_heartbeat.runtime.fleet import InstanceStatus
from nova_vm_heartbeat.runtime import hypervisor as hv
from nova_vm_heartbeat.runtime.libvirt_events import EventFeed
from nova_vm_heartbeat.runtime.mailbox import Mail
from nova_vm_heartbeat.runtime.mailbox import Mailbox
from nova_vm_heartbeat.runtime.mailbox import OperationCaps
from nova_vm_heartbeat.runtime.notifier import Notifier
from nova_vm_heartbeat.runtime.notifier import utcnow
from nova_vm_heartbeat.runtime.options import RuntimeOptions
from nova_vm_heartbeat.runtime.qga import QgaProber
from nova_vm_heartbeat.runtime.reactor import Reactor
from nova_vm_heartbeat.runtime.session import Terms
from nova_vm_heartbeat.runtime.stats import Batch
from nova_vm_heartbeat.runtime.stats import StatsSampler
from nova_vm_heartbeat.runtime.telemetry import Snapshot
from nova_vm_heartbeat.runtime.throttle import Once
from nova_vm_heartbeat.sinks.base import Sink
from nova_vm_heartbeat.sources.base import InstanceInfo
from nova_vm_heartbeat.sources.base import InstanceSource

LOG = logging.getLogger(__name__)

#: The loop woke this much later than planned: the host was stalled.
STALL_SECONDS = 2.0
#: Workers for the source and the statistics.
HOST_WORKERS = 2

#: Instances found together connect at random moments within this many
#: seconds (or their interval, if shorter), so that their challenges do
#: not all fall due at once.
MAX_SPREAD = 2.0

_T = typing.TypeVar("_T")


class MonitorService:
    """Monitors every instance its source names; reports to its sink.

    :meth:`start` starts the sink and :meth:`stop` stops it; the source
    is the caller's to close. A stopped service cannot be started again.

    :param libvirt: the ``libvirt`` module to use (a test double in
        tests); by default it is imported when ``options.libvirt_uri``
        is set. Without libvirt only the heartbeat channel is used.
    :param lifecycle_events: run the libvirt event thread (standalone);
        inside nova-compute Nova owns libvirt's event loop and the driver
        posts lifecycle events itself.
    :param operation_caps: the longest, in seconds, each operation may
        suspend judgement of an instance when its end is never posted
        (``[heartbeat] max_operation`` caps the others).
    :param endpoints: makes the operator endpoints (admin socket,
        metrics) from the service, which they report on; they start and
        stop with it (see ``nova_vm_heartbeat.composition.endpoints``).
    """

    def __init__(self, source: InstanceSource, sink: Sink,
                 options: RuntimeOptions, *, libvirt: typing.Any = None,
                 clock: typing.Callable[[], float] = time.monotonic,
                 wallclock: typing.Callable[[], datetime.datetime] = utcnow,
                 lifecycle_events: bool = True,
                 operation_caps: typing.Optional[typing.Mapping[
                     sig.Operation, float]] = None,
                 endpoints: typing.Sequence[EndpointFactory] = ()):
        self.source = source
        self.sink = sink
        self.options = options
        self.clock = clock
        #: CPU seconds the monitor thread used (updated by the thread).
        self.cpu_time = 0.0
        #: Times the loop found itself stalled.
        self.stalls = 0
        self._libvirt = libvirt
        self._lifecycle_events = lifecycle_events
        self._notifier = Notifier(sink, options.host, wallclock, clock)
        self._reactor = Reactor(clock)
        self._store = EpisodeStore(options.state_file)
        self._fleet = Fleet(options, self, clock, store=self._store)
        self._stopping = threading.Event()
        self._thread: typing.Optional[threading.Thread] = None
        self._host_pool: typing.Optional[
            concurrent.futures.ThreadPoolExecutor] = None
        self._qga_pool: typing.Optional[
            concurrent.futures.ThreadPoolExecutor] = None
        self._hypervisor: typing.Optional[hv.Hypervisor] = None
        self._qga: typing.Optional[QgaProber] = None
        self._stats: typing.Optional[StatsSampler] = None
        self._events: typing.Optional[EventFeed] = None
        self._refreshing = False
        self._source_down = Once()
        self._drops = LogThrottle(60.0)
        self._dropped_seen = 0
        self._endpoints = Endpoints(endpoints, self)
        self._mail = Mailbox()
        self._operations = OperationCaps(self._reactor, operation_caps or {},
                                         self._operation_expired)

    # -- life cycle ---------------------------------------------------------

    def start(self) -> None:
        """Start the threads; returns at once."""
        if self._thread is not None:
            raise RuntimeError("the monitor service was already started")
        self._host_pool = concurrent.futures.ThreadPoolExecutor(
            HOST_WORKERS, thread_name_prefix="heartbeat-host")
        self._start_libvirt()
        self.sink.start()
        self._store.start()
        self._thread = threading.Thread(target=self._run, daemon=True,
                                        name="heartbeat-monitor")
        self._thread.start()
        self._endpoints.start()
        LOG.info("Heartbeat monitor started on %(host)s (QGA %(qga)s, "
                 "libvirt events %(events)s)", {
                     "host": self.options.host,
                     "qga": "on" if self._qga else "off",
                     "events": "on" if self._events else "off"})

    def _start_libvirt(self) -> None:
        uri = self.options.libvirt_uri
        module = self._libvirt
        if uri is not None and module is None:
            module = hv.import_libvirt()
        if uri is None or module is None:
            return
        if self._lifecycle_events:
            hv.silence_stderr(module)
            self._events = EventFeed(module, uri, self.post,
                                     self.forgive_all,
                                     self.options.reconnect_max)
            self._events.start()  # registers the event loop first
        # One connection each for the QGA calls and the statistics: with
        # one for both, libvirt makes a stopped QEMU's CPU sample wait for
        # the agent call in progress (see stats.py).
        self._hypervisor = hv.Hypervisor(module, uri, hv.qemu_module(module),
                                         "QEMU guest agent calls")
        self._stats = StatsSampler(hv.Hypervisor(module, uri,
                                                 purpose="vCPU statistics"),
                                   self._host_pool_(), self._deliver_batch)
        if self._hypervisor.qemu is not None:
            workers = max(1, self.options.qga_workers)
            self._qga_pool = concurrent.futures.ThreadPoolExecutor(
                workers, thread_name_prefix="heartbeat-qga")
            self._qga = QgaProber(self._hypervisor, self._qga_pool, workers,
                                  self.post)
            self._fleet.qga = True

    def _host_pool_(self) -> concurrent.futures.ThreadPoolExecutor:
        assert self._host_pool is not None
        return self._host_pool

    def stop(self, timeout: float = 1.0) -> None:
        """Stop and join the threads, within about ``timeout`` seconds.

        Blocking libvirt calls still running on worker threads are left
        to finish on their own (each is bounded by its timeout).
        """
        deadline = time.monotonic() + timeout
        self._endpoints.stop()
        self._stopping.set()
        self._reactor.wake()
        if self._events is not None:
            self._events.stop(max(0.0, deadline - time.monotonic()) * 0.5)
        if self._thread is None:
            self._reactor.close()  # never started: nothing else to stop
            return
        self._thread.join(max(0.0, deadline - time.monotonic()))
        if self._thread.is_alive():
            LOG.warning("The monitor thread did not stop in time")
        for pool in (self._qga_pool, self._host_pool):
            if pool is not None:
                pool.shutdown(wait=False, cancel_futures=True)
        if self._hypervisor is not None:
            self._hypervisor.close()
        if self._stats is not None:
            self._stats.close()
        self._store.close(max(0.0, deadline - time.monotonic()) + 1.0)
        self.sink.stop()
        LOG.info("Heartbeat monitor stopped")

    # -- any thread ---------------------------------------------------------

    def post(self, instance_uuid: str, signal: sig.Signal) -> None:
        """Hand ``signal`` about ``instance_uuid`` to its monitor.

        Thread safe and never blocks. Signals are never dropped: they wait
        in a mailbox per instance, and the loop's inbox holds at most one
        call per instance with mail, so what waits is bounded by the
        instances, not by the traffic.
        """
        self._send(instance_uuid, signal)

    def admit(self, info: InstanceInfo) -> None:
        """Monitor ``info`` at once, before the signals posted after this.

        Thread safe and never blocks. The Nova driver calls it when it
        spawned or received an instance, so that the instance's start is
        not lost before the source's next answer lists it.
        """
        self._send(info.uuid, info)

    def _send(self, uuid: str, mail: Mail) -> None:
        if self._mail.put(uuid, mail):
            self._reactor.call_soon(functools.partial(
                self._deliver_mail, uuid), force=True)

    def forgive_all(self) -> None:
        """Every monitor forgives what went unobserved (libvirtd was back).

        Thread safe; the Nova driver calls it when its libvirt connection
        comes back.
        """
        self._reactor.call_soon(
            lambda: self._fleet.forgive_all(self.clock()), force=True)

    def statuses(self, timeout: float = 1.0) -> typing.List[InstanceStatus]:
        """A snapshot of every monitored instance, safely from any thread.

        :raises concurrent.futures.TimeoutError: the loop did not answer
            within ``timeout`` seconds.
        """
        return self._on_loop(lambda: self._fleet.statuses(self.clock()),
                             timeout)

    def telemetry(self, timeout: float = 1.0,
                  round_trips: bool = True) -> Snapshot:
        """The loop's counters for operators, safely from any thread.

        :param round_trips: include the per-instance round trips.
        :raises concurrent.futures.TimeoutError: the loop did not answer
            within ``timeout`` seconds.
        """
        return self._on_loop(lambda: self._fleet.snapshot(
            round_trips, stalls=self.stalls, dropped=self._reactor.dropped,
            cpu_seconds=self.cpu_time, outbox_depth=self._outbox_depth()),
            timeout)

    def _outbox_depth(self) -> typing.Optional[int]:
        """What waits in the sink's outbox; None if it has none."""
        depth = getattr(self.sink, "depth", None)
        try:
            return int(depth()) if depth is not None else None
        except exception.HeartbeatException:
            return None  # the sink logs its own trouble

    def _on_loop(self, call: typing.Callable[[], _T], timeout: float) -> _T:
        """Run ``call`` on the monitor thread; its result."""
        thread = self._thread
        if thread is None or not thread.is_alive() \
                or thread.ident == threading.get_ident():
            return call()
        future: concurrent.futures.Future[_T] = concurrent.futures.Future()

        def run() -> None:
            try:
                future.set_result(call())
            except Exception as err:
                future.set_exception(err)

        self._reactor.call_soon(run, force=True)
        return future.result(timeout)

    # -- the monitor thread -------------------------------------------------

    def _run(self) -> None:
        self._refresh()
        if self._stats is not None:
            self._sample()
        try:
            while not self._stopping.is_set():
                self._iterate()
        finally:
            self._fleet.close()
            self._reactor.close()

    def _iterate(self) -> None:
        late = self._reactor.run_once(self._fleet.next_deadline())
        if late > STALL_SECONDS:
            self._stalled(late)  # before anything is judged at this time
        self._fleet.run_due(self.clock())
        self._check_drops()
        self.cpu_time = time.thread_time()

    def _stalled(self, late: float) -> None:
        self.stalls += 1
        LOG.warning("The monitor loop ran %(late).1f s late (the host or "
                    "this process was stalled); every instance forgives "
                    "that time", {"late": late})
        self._fleet.forgive_all(self.clock())

    def _deliver_mail(self, uuid: str) -> None:
        now = self.clock()
        for item in self._mail.take(uuid):
            if isinstance(item, InstanceInfo):
                self._fleet.admit(item, now)
                continue
            self._operations.note(uuid, item)
            self._fleet.deliver(uuid, item, now)

    def _operation_expired(self, uuid: str, operation: sig.Operation,
                           cap: float) -> None:
        LOG.warning("Instance %(uuid)s: the end of %(op)s was not seen "
                    "within %(cap)g s; judging it again",
                    {"uuid": uuid, "op": operation.value, "cap": cap})
        self._fleet.deliver(uuid, sig.OperationFinished(operation),
                            self.clock())

    def _check_drops(self) -> None:
        dropped = self._reactor.dropped
        if dropped == self._dropped_seen:
            return
        held = self._drops.allow(self.clock())
        if held is not None:
            LOG.warning("The monitor loop is overloaded: %(n)d signals "
                        "dropped so far", {"n": dropped})
            self._dropped_seen = dropped

    # -- the source -----------------------------------------------------------

    def _refresh(self) -> None:
        self._reactor.call_later(self.options.refresh_interval,
                                 self._refresh)
        if self._refreshing:
            return
        self._refreshing = True
        try:
            self._host_pool_().submit(self._ask_source, self.clock())
        except RuntimeError:  # stopping
            self._refreshing = False

    def _ask_source(self, asked_at: float) -> None:
        infos: typing.Optional[typing.List[InstanceInfo]] = None
        try:
            infos = self.source.instances()
        except exception.SourceUnavailable as err:
            if self._source_down.first():
                LOG.warning("%(err)s; monitoring the instances known so far",
                            {"err": err})
        except Exception:
            if self._source_down.first():
                LOG.exception("The instance source failed; monitoring the "
                              "instances known so far")
        else:
            if self._source_down.clear():
                LOG.info("The instance source answers again")
        self._reactor.call_soon(functools.partial(
            self._apply, infos, asked_at), force=True)

    def _apply(self, infos: typing.Optional[typing.List[InstanceInfo]],
               asked_at: float) -> None:
        self._refreshing = False
        if infos is not None:
            self._fleet.apply(infos, self.clock(), asked_at)
        self._fleet.flush_logs(self.clock())

    # -- statistics -----------------------------------------------------------

    def _sample(self) -> None:
        self._reactor.call_later(self.options.stats_interval, self._sample)
        assert self._stats is not None
        self._stats.sample(self._fleet.silent())

    def _deliver_batch(self, batch: Batch) -> None:
        self._reactor.call_soon(functools.partial(self._apply_batch, batch),
                                force=True)

    def _apply_batch(self, batch: Batch) -> None:
        now = self.clock()
        for uuid, signal in batch:
            self._fleet.deliver(uuid, signal, now)

    # -- what the fleet asks (on the monitor thread) ------------------------

    def open_channel(self, info: InstanceInfo, terms: Terms,
                     deliver: Deliver) -> typing.Optional[Channel]:
        if not info.heartbeat_socket:
            return None
        return HeartbeatChannel(
            self._reactor, "%s (%s)" % (info.uuid, info.domain_name),
            info.domain_name, info.heartbeat_socket, terms,
            limits=self.options.limits, read_budget=self.options.read_budget,
            cpu_budget=self.options.guest_cpu_budget,
            reconnect_max=self.options.reconnect_max, deliver=deliver,
            spread=random.uniform(0.0, min(terms.interval, MAX_SPREAD)))

    def sync_agent(self, uuid: str, seq: int, timeout: float) -> None:
        if self._qga is not None:
            self._qga.sync(uuid, seq, timeout)

    def report(self, info: InstanceInfo, verdict: vd.Verdict,
               state: str) -> None:
        self._notifier.report(info.uuid, info.display_name, verdict, state)

    def sample_stats(self, uuid: str) -> None:
        if self._stats is not None:
            self._stats.sample({uuid})

    def forget(self, uuid: str) -> None:
        self._operations.forget(uuid)
        if self._qga is not None:
            self._qga.forget(uuid)
        if self._stats is not None:
            self._stats.forget(uuid)
