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

"""Every monitored instance of the host, and when each is next due.

:class:`Fleet` is the runtime's core, with no thread or socket of its own:
it keeps one :class:`~nova_vm_heartbeat.monitor.InstanceMonitor` per
instance, feeds it signals, ticks it when its ``next_deadline()`` comes
(one heap for all instances), and carries out what it asks through
:class:`Effects`. It runs on the monitor thread only; tests drive it with
a fake clock.

Each instance's work is guarded: a bug that raises for one instance is
logged once, with its traceback, and never stops the others.
"""

from __future__ import annotations

import collections
import dataclasses
import functools
import logging
import math
import typing
import zlib

from nova_vm_heartbeat.monitor import actions as act
from nova_vm_heartbeat.monitor.machine import InstanceMonitor
from nova_vm_heartbeat.monitor.machine import MonitorState
from nova_vm_heartbeat.monitor.policy import Settings
from nova_vm_heartbeat.monitor.requests import HostRequestBudget
from nova_vm_heartbeat.monitor import signals as sig
from nova_vm_heartbeat.monitor.status import Status
from nova_vm_heartbeat.monitor import verdicts as vd
from nova_vm_heartbeat.runtime.channel import ChannelSnapshot
from nova_vm_heartbeat.runtime.episode_store import EpisodeStore
from nova_vm_heartbeat.runtime.options import RuntimeOptions
from nova_vm_heartbeat.runtime.session import Terms
from nova_vm_heartbeat.runtime.telemetry import Snapshot
from nova_vm_heartbeat.runtime.telemetry import Telemetry
from nova_vm_heartbeat.runtime.throttle import BurstThrottle
from nova_vm_heartbeat.runtime.timers import DeadlineWheel
from nova_vm_heartbeat.sources.base import InstanceInfo

LOG = logging.getLogger(__name__)

Deliver = typing.Callable[[sig.Signal], None]
L = sig.Lifecycle
HB = sig.Channel.HEARTBEAT
QGA = sig.Channel.QGA
#: Least seconds between two ticks of one instance: a monitor whose next
#: deadline stays in the past after a tick must not spin the loop. It
#: delays what such a tick would find by at most this much.
MIN_TICK_GAP = 0.1
#: Deadlines are rounded up to a multiple of this many seconds, so that
#: instances due at nearly the same time are ticked in one pass of the
#: loop and their answers come back together: on a host with many
#: instances the loop wakes up tens of times a second instead of twice
#: per instance. It delays a challenge or a verdict by at most this much.
TICK_GRAIN = 0.02
#: Instances ticked per pass of the loop at most, so that the sockets are
#: read in between even when very many instances are due at once.
MAX_TICKS_PER_PASS = 1000


def spread(uuid: str) -> float:
    """Where in its interval the instance is challenged, from 0 to 1.

    Even over [0, 1) by the uuid, so that instances restarted together
    (this monitor started, a stall or a libvirtd restart forgiven) are
    challenged in a few batches from their second challenge on, and the
    same instance always alike (see :class:`~.probes.Probe`).
    """
    return zlib.crc32(uuid.encode("utf-8")) / 2.0 ** 32


def _level(before: MonitorState, after: MonitorState) -> int:
    """How loudly a change of state is logged.

    Entering a bad state is a warning. A single missed answer and its
    recovery (in and out of SUSPECT) are routine: debug.
    """
    if after in (MonitorState.FAILED, MonitorState.UNHEALTHY):
        return logging.WARNING
    if MonitorState.SUSPECT in (before, after):
        return logging.DEBUG
    return logging.INFO


class Channel(typing.Protocol):
    """What the fleet needs of a heartbeat channel."""

    def start(self) -> None:
        """Connect when possible."""

    def close(self) -> None:
        """Disconnect for good."""

    def nudge(self) -> None:
        """Try to connect now (the domain just started)."""

    def configure(self, terms: Terms) -> None:
        """New welcome terms."""

    def challenge(self, seq: int) -> None:
        """Send challenge ``seq`` if a session is established."""

    def ack(self, action: act.SendAck) -> None:
        """Send an ack if a session is established."""

    def snapshot(self) -> ChannelSnapshot:
        """State and counters, for operators."""


class Effects(typing.Protocol):
    """What the fleet asks of the world."""

    def open_channel(self, info: InstanceInfo, terms: Terms,
                     deliver: Deliver) -> typing.Optional[Channel]:
        """A (not yet started) channel to the instance's socket."""

    def sync_agent(self, uuid: str, seq: int, timeout: float) -> None:
        """Start a QGA challenge."""

    def report(self, info: InstanceInfo, verdict: vd.Verdict,
               state: str) -> None:
        """Report a verdict."""

    def forget(self, uuid: str) -> None:
        """The instance is no longer monitored."""

    def sample_stats(self, uuid: str) -> None:
        """Sample the domain's statistics soon (it just went silent)."""


@dataclasses.dataclass(frozen=True)
class InstanceStatus:
    """One line of ``statuses()``: who, and how it is judged."""

    uuid: str
    domain_name: str
    display_name: str
    status: Status
    #: The heartbeat channel (None: the instance has none).
    channel: typing.Optional[ChannelSnapshot] = None


@dataclasses.dataclass(eq=False)
class Instance:
    """One monitored instance: what the source said, and its monitor."""

    info: InstanceInfo
    settings: Settings
    monitor: InstanceMonitor
    channel: typing.Optional[Channel] = None
    #: Whether the domain runs, as last observed (event or source).
    running: bool = True
    #: When the last lifecycle event arrived.
    event_at: float = -math.inf
    #: A bug already logged its traceback for this instance.
    broken: bool = False
    #: The state last logged (monitors start in STARTING).
    logged_state: MonitorState = MonitorState.STARTING
    #: Bounds how many state changes of this instance are logged.
    state_log: BurstThrottle[typing.Tuple[MonitorState, MonitorState]] = \
        dataclasses.field(default_factory=BurstThrottle)
    #: When it was admitted ahead of the source (-inf: by the source).
    admitted_at: float = -math.inf


class Fleet:
    """The monitored instances; one deadline heap for all of them."""

    def __init__(self, options: RuntimeOptions, effects: Effects,
                 clock: typing.Callable[[], float], qga: bool = False,
                 store: typing.Optional[EpisodeStore] = None):
        self.options = options
        #: What a restart must not forget of each instance's episodes.
        self.store = store or EpisodeStore(None)
        self.effects = effects
        self.clock = clock
        #: Whether QGA challenges can be carried out at all.
        self.qga = qga
        self._instances: typing.Dict[str, Instance] = {}
        self._due: DeadlineWheel[str] = DeadlineWheel(TICK_GRAIN)
        #: The guests' recovery requests granted on this host.
        self.requests = HostRequestBudget(options.bounds.requests_per_hour)
        #: What the loop counts for operators.
        self.telemetry = Telemetry()

    def __len__(self) -> int:
        return len(self._instances)

    def __contains__(self, uuid: object) -> bool:
        return uuid in self._instances

    def get(self, uuid: str) -> typing.Optional[Instance]:
        return self._instances.get(uuid)

    def silent(self) -> typing.Set[str]:
        """The running instances a verdict may soon be decided about.

        Those whose statistics the verdict needs as evidence: silent
        (an unanswered challenge), or at the end of their grace.
        """
        now = self.clock()
        return {u for u, i in self._instances.items()
                if i.running and i.monitor.deciding_soon(now)}

    def next_deadline(self) -> float:
        return self._due.next_deadline()

    # -- the instance list ------------------------------------------------

    def apply(self, infos: typing.Iterable[InstanceInfo], now: float,
              asked_at: float) -> None:
        """Take the source's answer, asked for at ``asked_at``."""
        seen: typing.Set[str] = set()
        for info in infos:
            if info.uuid in seen:
                continue
            seen.add(info.uuid)
            instance = self._instances.get(info.uuid)
            if instance is None:
                self._add(info, now)
            else:
                self._guard(instance, "update",
                            self._update, instance, info, now, asked_at)
        # An instance admitted after the question was asked is newer than
        # the answer: it stays.
        for uuid in [u for u, i in self._instances.items()
                     if u not in seen and i.admitted_at < asked_at]:
            self.remove(uuid)

    def admit(self, info: InstanceInfo, now: float) -> None:
        """Monitor ``info`` now, ahead of the source's next answer.

        The hypervisor driver just placed it on this host (spawned or
        received it): the signals that follow must find its monitor. An
        instance already monitored (a resize on the same host) takes the
        settings of its new flavor; whether it runs, the lifecycle events
        that follow say.
        """
        instance = self._instances.get(info.uuid)
        if instance is not None:
            self._guard(instance, "admit", self._configure, instance, info,
                        now)
            self._schedule(instance, now)
            return
        self._add(info, now)
        instance = self._instances.get(info.uuid)
        if instance is not None:
            instance.admitted_at = now

    def _wanted(self, info: InstanceInfo) -> typing.Optional[Settings]:
        settings = dataclasses.replace(
            info.settings,
            heartbeat=info.settings.heartbeat and bool(info.heartbeat_socket),
            qga=info.settings.qga and self.qga)
        if not (settings.heartbeat or settings.qga):
            return None
        return settings

    def _add(self, info: InstanceInfo, now: float) -> None:
        settings = self._wanted(info)
        if settings is None:
            LOG.debug("Instance %(uuid)s has neither a heartbeat channel "
                      "nor a usable QGA: not monitored", {"uuid": info.uuid})
            return
        monitor = InstanceMonitor(
            settings, self.options.bounds, now, running=info.running,
            uptime=info.uptime, requests=self.requests,
            record=self.store.restore(info.uuid, info.uptime),
            spread=spread(info.uuid))
        instance = Instance(info, settings, monitor, running=info.running)
        self._instances[info.uuid] = instance
        self.store.put(info.uuid, monitor.record())
        _log_clamped(info, settings, monitor.settings)
        LOG.info("Instance %(uuid)s (%(name)s): monitoring, every %(i)g s "
                 "over %(channels)s", {
                     "uuid": info.uuid, "name": info.domain_name,
                     "i": monitor.settings.interval,
                     "channels": _channels(monitor.settings)})
        self._guard(instance, "start", self._open_channel, instance)
        self._schedule(instance, now)

    def _open_channel(self, instance: Instance) -> None:
        if not instance.monitor.settings.heartbeat:
            return
        instance.channel = self.effects.open_channel(
            instance.info, self._terms(instance),
            functools.partial(self.deliver, instance.info.uuid))
        if instance.channel is not None and instance.running:
            instance.channel.start()

    def _terms(self, instance: Instance) -> Terms:
        settings = instance.monitor.settings
        return Terms(settings.interval, settings.timeout,
                     self.options.bounds.max_maintenance)

    def _update(self, instance: Instance, info: InstanceInfo, now: float,
                asked_at: float) -> None:
        if not self._configure(instance, info, now):
            return
        if info.running != instance.running and instance.event_at < asked_at:
            self._handle(instance, now, self._observed(instance, info))
        elif info.running and instance.channel is not None:
            instance.channel.start()

    def _configure(self, instance: Instance, info: InstanceInfo,
                   now: float) -> bool:
        """Take ``info``'s settings and socket; False if no longer wanted."""
        old, instance.info = instance.info, info
        settings = self._wanted(info)
        if settings is None:
            self.remove(info.uuid)
            return False
        if info.heartbeat_socket != old.heartbeat_socket:
            self._close_channel(instance)
        if settings != instance.settings:
            instance.settings = settings
            instance.monitor.reconfigure(now, settings)
            _log_clamped(info, settings, instance.monitor.settings)
            if instance.channel is not None:
                instance.channel.configure(self._terms(instance))
        if instance.channel is None:
            self._open_channel(instance)
        return True

    def _observed(self, instance: Instance,
                  info: InstanceInfo) -> sig.DomainEvent:
        """The lifecycle event the source's answer implies (one was missed).

        Back to running: a new boot if the domain has run for less than
        its boot grace or, not knowing, if the heartbeat session did not
        survive; else it resumed. (A new boot the session survives cannot
        be: QEMU's restart ends the connection, and a reboot inside the
        guest brings a hello with a new boot id.)
        """
        if not info.running:
            return sig.DomainEvent(L.STOPPED, "observed")
        if info.uptime is not None:
            fresh = info.uptime < instance.monitor.settings.boot_grace
        else:
            channel = instance.channel
            fresh = channel is None or not channel.snapshot().established
        return sig.DomainEvent(L.STARTED if fresh else L.RESUMED, "observed")

    def remove(self, uuid: str, forget: bool = True) -> None:
        """Stop monitoring ``uuid``; ``forget`` its episodes too."""
        instance = self._instances.pop(uuid, None)
        if instance is None:
            return
        if forget:
            self.store.forget(uuid)
        self._due.discard(uuid)
        self._log_changes(instance, instance.state_log.drain())
        self._close_channel(instance)
        self.telemetry.forget(uuid)
        self.effects.forget(uuid)
        LOG.info("Instance %(uuid)s (%(name)s): no longer monitored",
                 {"uuid": uuid, "name": instance.info.domain_name})

    def _close_channel(self, instance: Instance) -> None:
        channel, instance.channel = instance.channel, None
        if channel is not None:
            self._guard(instance, "close", channel.close)

    def close(self) -> None:
        """Stop monitoring; the episodes are kept for the next run."""
        for uuid in list(self._instances):
            self.remove(uuid, forget=False)

    # -- signals and time -------------------------------------------------

    def deliver(self, uuid: str, signal: sig.Signal,
                now: typing.Optional[float] = None) -> None:
        """Hand ``signal`` to the monitor of ``uuid`` (unknown: dropped)."""
        instance = self._instances.get(uuid)
        if instance is None:
            LOG.debug("Dropping %(signal)r for unmonitored %(uuid)s",
                      {"signal": signal, "uuid": uuid})
            return
        when = self.clock() if now is None else now
        self._guard(instance, "signal", self._handle, instance, when, signal)

    def _handle(self, instance: Instance, now: float,
                signal: sig.Signal) -> None:
        if isinstance(signal, sig.DomainEvent):
            self._lifecycle(instance, now, signal)
        missed = (instance.monitor.missed_total()
                  if type(signal) is sig.QgaFailed else 0)
        self._carry_out(instance, instance.monitor.handle(now, signal))
        self._schedule(instance, now)
        self._count(instance, now, signal, missed)
        self._note_change(instance)

    def _count(self, instance: Instance, now: float, signal: sig.Signal,
               missed: int) -> None:
        """Count what ``signal`` amounted to, for operators."""
        kind = type(signal)
        if kind is sig.HeartbeatAnswered or kind is sig.QgaAnswered:
            channel = HB if kind is sig.HeartbeatAnswered else QGA
            rtt = instance.monitor.fresh_round_trip(channel, now)
            if rtt is not None:
                self.telemetry.round_trip(instance.info.uuid, channel.value,
                                          rtt)
        elif kind is sig.ProtocolViolation:
            assert isinstance(signal, sig.ProtocolViolation)
            self.telemetry.protocol_errors.update(
                dict(signal.by_kind or ((signal.kind, signal.count),)))
        elif kind is sig.QgaFailed:
            self.telemetry.missed += max(
                0, instance.monitor.missed_total() - missed)

    def _lifecycle(self, instance: Instance, now: float,
                   event: sig.DomainEvent) -> None:
        instance.event_at = now
        runs = sig.RUNS_AFTER.get(event.lifecycle)
        if runs is not None:
            instance.running = runs
        channel = instance.channel
        if channel is None:
            return
        if runs:
            channel.start()
            channel.nudge()
        elif event.lifecycle is L.STOPPED:
            channel.close()  # the socket went with QEMU; start() reopens

    def run_due(self, now: float) -> int:
        """Tick every instance whose deadline has come; how many."""
        lag = now - self._due.next_deadline()
        if lag >= 0.0:
            self.telemetry.lag(lag)
        due = self._due.pop_due(now, MAX_TICKS_PER_PASS)
        for uuid in due:
            instance = self._instances.get(uuid)
            if instance is not None:
                self._guard(instance, "tick", self._tick, instance, now)
        return len(due)

    def _tick(self, instance: Instance, now: float) -> None:
        missed = instance.monitor.missed_total()
        self._carry_out(instance, instance.monitor.tick(now))
        self.telemetry.missed += instance.monitor.missed_total() - missed
        self._schedule(instance, now, ticked=True)
        self._note_change(instance)

    def _note_change(self, instance: Instance) -> None:
        """Log a change of state: rare, and what on-call wants to see.

        Entering SUSPECT also asks for a statistics sample now.

        Compared with the state last logged, not the state before the
        call: a signal can arrive while a tick is carried out.
        """
        before, after = instance.logged_state, instance.monitor.state
        if after is before:
            # After nearly every signal and tick: read no clock unless a
            # held line waits.
            if instance.state_log.holding:
                self._log_changes(instance, instance.state_log.flush(
                    self.clock()))
            return
        instance.logged_state = after
        self.store.put(instance.info.uuid, instance.monitor.record())
        if after is MonitorState.SUSPECT and instance.running:
            # A baseline for the verdict's vCPU and I/O deltas.
            self.effects.sample_stats(instance.info.uuid)
        self._log_changes(instance, instance.state_log.offer(
            self.clock(), (before, after)))

    def flush_logs(self, now: float) -> None:
        """Log the state changes the throttle held, once it allows.

        Called every few seconds: a held change would otherwise wait for
        the instance's next signal or tick, and a stopped instance may
        have none for days.
        """
        for instance in self._instances.values():
            self._log_changes(instance, instance.state_log.flush(now))

    def _log_changes(self, instance: Instance, lines: typing.List[
            typing.Tuple[typing.Tuple[MonitorState, MonitorState], int]]
            ) -> None:
        """State changes, the first and last of a burst (see throttle)."""
        for (before, after), held in lines:
            LOG.log(_level(before, after),
                    "Instance %(uuid)s (%(name)s): %(before)s -> %(after)s"
                    "%(held)s", {"uuid": instance.info.uuid,
                                 "name": instance.info.domain_name,
                                 "before": before.value,
                                 "after": after.value,
                                 "held": " (after %d state changes not "
                                 "logged)" % held if held else ""})

    def forgive_all(self, now: float) -> None:
        """The host could not observe for a while: forgive every monitor."""
        for instance in self._instances.values():
            self._guard(instance, "forgive", instance.monitor.forgive, now)
            self._schedule(instance, now)

    def _schedule(self, instance: Instance, now: float,
                  ticked: bool = False) -> None:
        """Set the instance's deadline; never "now" again right after a tick.

        A monitor may leave a deadline in the past that its tick could not
        act on (a loss deadline while a challenge is still in flight):
        ticking it again at once would spin the loop. A deadline already
        past is due from ``now``: the loop lag counts from then, not from
        a time nothing could be done (a challenge due before the agent
        said hello).
        """
        uuid = instance.info.uuid
        if uuid not in self._instances:
            return
        deadline = instance.monitor.next_deadline()
        if deadline <= now:
            deadline = now + MIN_TICK_GAP if ticked else now
        # Rounded up to TICK_GRAIN by the wheel.
        self._due.set(uuid, deadline)

    # -- actions ------------------------------------------------------------

    def _carry_out(self, instance: Instance,
                   actions: typing.List[act.Action]) -> None:
        for action in actions:
            # A challenge first: nearly every action is one.
            if isinstance(action, act.SendChallenge):
                if instance.channel is not None:
                    instance.channel.challenge(action.seq)
            elif isinstance(action, act.Report):
                self._report(instance, action.verdict)
            elif isinstance(action, act.SyncAgent):
                self.effects.sync_agent(instance.info.uuid, action.seq,
                                        action.timeout)
            elif instance.channel is not None:
                instance.channel.ack(action)

    def _report(self, instance: Instance, verdict: vd.Verdict) -> None:
        uuid = instance.info.uuid
        verdict = dataclasses.replace(
            verdict, verdict_id=self.store.verdict_id(uuid, verdict))
        self.telemetry.verdicts[verdict.kind.value,
                                verdict.fault_class.value] += 1
        self.effects.report(instance.info, verdict,
                            instance.monitor.state.value)
        self.store.put(uuid, instance.monitor.record())

    # -- status -------------------------------------------------------------

    def statuses(self, now: float) -> typing.List[InstanceStatus]:
        return [InstanceStatus(
            i.info.uuid, i.info.domain_name, i.info.display_name,
            i.monitor.status(now),
            i.channel.snapshot() if i.channel is not None else None)
            for i in self._instances.values()]

    def snapshot(self, round_trips: bool = True,
                 **extra: typing.Any) -> Snapshot:
        """The telemetry, with the instances counted by state."""
        states = collections.Counter(
            i.monitor.state.value for i in self._instances.values())
        abuse = {uuid: counts for uuid, counts in (
            (i.info.uuid, i.channel.snapshot().abuse())
            for i in self._instances.values() if i.channel is not None)
            if counts}
        return self.telemetry.snapshot(dict(states), round_trips,
                                       abuse=abuse, **extra)

    # -- guarding -------------------------------------------------------------

    def _guard(self, instance: Instance, what: str,
               call: typing.Callable[..., object], *args: typing.Any) -> None:
        try:
            call(*args)
        except Exception:
            if instance.broken:
                LOG.debug("Instance %(uuid)s: error in %(what)s again",
                          {"uuid": instance.info.uuid, "what": what},
                          exc_info=True)
                return
            instance.broken = True
            LOG.exception("Instance %(uuid)s: unexpected error in %(what)s;"
                          " the other instances are not affected (further "
                          "errors of this instance are logged at debug "
                          "level)", {"uuid": instance.info.uuid,
                                     "what": what})
            self._schedule_after_error(instance)

    def _schedule_after_error(self, instance: Instance) -> None:
        """Keep a failing instance from spinning the loop."""
        uuid = instance.info.uuid
        if uuid in self._instances:
            self._due.set(uuid, self.clock() + 1.0)


#: The settings the operator's bounds may clamp.
_CLAMPED = ("interval", "timeout", "failure_threshold", "boot_grace")


def _log_clamped(info: InstanceInfo, wanted: Settings,
                 granted: Settings) -> None:
    """Say, when an instance is (re)configured, what the bounds changed."""
    changed = ["%s %g -> %g" % (name, getattr(wanted, name),
                                getattr(granted, name))
               for name in _CLAMPED
               if getattr(wanted, name) != getattr(granted, name)]
    if changed:
        LOG.warning("Instance %(uuid)s (%(name)s): the operator's [heartbeat]"
                    " bounds clamp what it asks for: %(changed)s",
                    {"uuid": info.uuid, "name": info.domain_name,
                     "changed": ", ".join(changed)})


def _channels(settings: Settings) -> str:
    names = [n for n, on in (("heartbeat", settings.heartbeat),
                             ("qga", settings.qga)) if on]
    return " and ".join(names)
