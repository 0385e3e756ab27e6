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

"""The verdict state machine of one instance: pure, clock injected.

Everything that decides an instance's state lives here (h11's rule):
the states and triggers, the transition table (:data:`TRANSITIONS`, from
which the documentation's state diagram is generated), the guards that
say which trigger an observation amounts to, and the effects of entering
a state (re-arm, report, close an episode).

:class:`InstanceMonitor` takes observations (:mod:`.signals`) and the
time, and returns what to do (:mod:`.actions`): send challenges, answer
the guest, report verdicts.

The channel that decides is the *primary*: our heartbeat channel when the
instance has it and the agent has not retired, else QGA. The other channel
and the domain statistics are evidence for the fault class.
"""

from __future__ import annotations

import dataclasses
import enum
import typing

from nova_vm_heartbeat.monitor import actions as act
from nova_vm_heartbeat.monitor import diagnosis
from nova_vm_heartbeat.monitor.episodes import EpisodeRecord
from nova_vm_heartbeat.monitor.episodes import Episodes
from nova_vm_heartbeat.monitor.policy import Bounds
from nova_vm_heartbeat.monitor.policy import Settings
from nova_vm_heartbeat.monitor.probes import Probe
from nova_vm_heartbeat.monitor.requests import HostRequestBudget
from nova_vm_heartbeat.monitor import signals as sig
from nova_vm_heartbeat.monitor import status
from nova_vm_heartbeat.monitor.suspensions import SuspensionKind
from nova_vm_heartbeat.monitor.suspensions import Suspensions
from nova_vm_heartbeat.monitor import verdicts as vd
from nova_vm_heartbeat.protocol import events


class MonitorState(str, enum.Enum):
    """Where an instance stands."""

    #: Just started, discovered, or re-armed: waiting (a bounded grace)
    #: for the first good answer. Silence is not judged yet.
    STARTING = "starting"
    #: Answers arrive and the guest reports itself healthy.
    HEALTHY = "healthy"
    #: At least one challenge went unanswered; not yet enough to judge.
    SUSPECT = "suspect"
    #: The heartbeat is lost (or the guest crashed): reported once.
    FAILED = "failed"
    #: The guest answers but reports a failed component: reported once.
    UNHEALTHY = "unhealthy"
    #: Judgement suspended for an operation, a lifecycle transition or a
    #: maintenance window; each has a hard cap.
    SUSPENDED = "suspended"
    #: The domain is not running (shut off, paused): nothing to judge.
    INACTIVE = "inactive"


class Trigger(str, enum.Enum):
    """What an observation amounts to, for the table."""

    #: A good answer (or report) on any channel, health ok.
    GOOD = "good"
    #: An answer (or report) with a failed component.
    UNWELL = "unwell"
    #: A challenge went unanswered within its timeout.
    MISS = "miss"
    #: Silence reached the failure threshold.
    LOST = "lost"
    #: The grace ended without a single good answer.
    GRACE_EXPIRED = "grace_expired"
    #: libvirt reported a crash or a guest panic.
    CRASH = "crash"
    #: An operation, lifecycle transition or maintenance window began.
    SUSPEND = "suspend"
    #: The last suspension ended (or hit its cap).
    RESUME = "resume"
    #: The domain started, or the guest rebooted: a new boot.
    BOOT = "boot"
    #: The domain stopped or was paused.
    HALT = "halt"


S = MonitorState
T = Trigger

#: state -> {trigger: next state}
TRANSITIONS: typing.Dict[MonitorState, typing.Dict[Trigger, MonitorState]] = {
    S.STARTING: {
        T.GOOD: S.HEALTHY, T.UNWELL: S.UNHEALTHY, T.MISS: S.STARTING,
        T.LOST: S.STARTING, T.GRACE_EXPIRED: S.FAILED, T.CRASH: S.FAILED,
        T.SUSPEND: S.SUSPENDED, T.RESUME: S.STARTING, T.BOOT: S.STARTING,
        T.HALT: S.INACTIVE,
    },
    S.HEALTHY: {
        T.GOOD: S.HEALTHY, T.UNWELL: S.UNHEALTHY, T.MISS: S.SUSPECT,
        T.LOST: S.FAILED, T.GRACE_EXPIRED: S.HEALTHY, T.CRASH: S.FAILED,
        T.SUSPEND: S.SUSPENDED, T.RESUME: S.HEALTHY, T.BOOT: S.STARTING,
        T.HALT: S.INACTIVE,
    },
    S.SUSPECT: {
        T.GOOD: S.HEALTHY, T.UNWELL: S.UNHEALTHY, T.MISS: S.SUSPECT,
        T.LOST: S.FAILED, T.GRACE_EXPIRED: S.SUSPECT, T.CRASH: S.FAILED,
        T.SUSPEND: S.SUSPENDED, T.RESUME: S.SUSPECT, T.BOOT: S.STARTING,
        T.HALT: S.INACTIVE,
    },
    S.FAILED: {
        T.GOOD: S.HEALTHY, T.UNWELL: S.UNHEALTHY, T.MISS: S.FAILED,
        T.LOST: S.FAILED, T.GRACE_EXPIRED: S.FAILED, T.CRASH: S.FAILED,
        T.SUSPEND: S.SUSPENDED, T.RESUME: S.FAILED, T.BOOT: S.STARTING,
        T.HALT: S.INACTIVE,
    },
    S.UNHEALTHY: {
        T.GOOD: S.HEALTHY, T.UNWELL: S.UNHEALTHY, T.MISS: S.SUSPECT,
        T.LOST: S.FAILED, T.GRACE_EXPIRED: S.UNHEALTHY, T.CRASH: S.FAILED,
        T.SUSPEND: S.SUSPENDED, T.RESUME: S.UNHEALTHY, T.BOOT: S.STARTING,
        T.HALT: S.INACTIVE,
    },
    S.SUSPENDED: {
        T.GOOD: S.SUSPENDED, T.UNWELL: S.SUSPENDED, T.MISS: S.SUSPENDED,
        T.LOST: S.SUSPENDED, T.GRACE_EXPIRED: S.SUSPENDED,
        T.CRASH: S.FAILED, T.SUSPEND: S.SUSPENDED, T.RESUME: S.STARTING,
        T.BOOT: S.SUSPENDED, T.HALT: S.INACTIVE,
    },
    S.INACTIVE: {
        T.GOOD: S.STARTING, T.UNWELL: S.STARTING, T.MISS: S.INACTIVE,
        T.LOST: S.INACTIVE, T.GRACE_EXPIRED: S.INACTIVE, T.CRASH: S.FAILED,
        T.SUSPEND: S.SUSPENDED, T.RESUME: S.STARTING, T.BOOT: S.STARTING,
        T.HALT: S.INACTIVE,
    },
}

#: Fault classes of a lost heartbeat that a longer silence may turn worse.
ESCALATES = frozenset({vd.FaultClass.AGENT_FAILURE})

#: States in which silence is judged (misses count towards a verdict).
JUDGING = frozenset({S.HEALTHY, S.SUSPECT, S.UNHEALTHY})

#: States in which QGA is only checked now and then while our heartbeat
#: channel answers (QGA on demand).
RELAXED = frozenset({S.HEALTHY, S.UNHEALTHY})


def next_state(state: MonitorState, trigger: Trigger) -> MonitorState:
    """The state that follows ``trigger`` in ``state``."""
    return TRANSITIONS[state][trigger]


HB = sig.Channel.HEARTBEAT
QGA = sig.Channel.QGA
K = SuspensionKind

Actions = typing.List[act.Action]

#: After QEMU closed the heartbeat socket, judgement waits at most this
#: long for libvirt to say the domain stopped (libvirt gives QEMU 10 s to
#: exit after SIGTERM before it kills it; a TCG guest was seen to take 2 s)
#: or for the socket to come back.
QEMU_EXIT_GRACE = 15.0

#: libvirt errors of a QGA sync that count as a miss.
_QGA_MISSES = frozenset({sig.AgentError.UNRESPONSIVE,
                         sig.AgentError.NOT_CONNECTED})


class InstanceMonitor:
    """Judges one instance. Not thread safe: one caller at a time."""

    def __init__(self, settings: Settings, bounds: Bounds, now: float,
                 running: bool = True,
                 uptime: typing.Optional[float] = None,
                 record: typing.Optional[EpisodeRecord] = None,
                 requests: typing.Optional[HostRequestBudget] = None,
                 spread: float = 1.0):
        """Start judging an instance.

        :param running: whether the domain runs now.
        :param uptime: how long the domain has run, if known: an instance
            found running (monitor restart) gets the short re-arm grace,
            a fresh boot the whole boot grace.
        :param record: what the monitor kept of the instance's episodes
            before it restarted (None: nothing).
        :param requests: the host's budget of guest recovery requests,
            shared by every instance (None: one of its own).
        :param spread: where in the interval, from 0 to 1, the second
            challenge after a (re)start of a channel goes: different for
            each instance, it spreads the challenges of instances that
            start together (see :class:`~.probes.Probe`).
        """
        self.bounds = bounds
        self._spread = spread
        self.settings = bounds.clamp(settings)
        self.state = S.INACTIVE
        self.violations = 0
        self._probes: typing.Dict[sig.Channel, Probe] = {}
        self._suspensions = Suspensions()
        self._stats = diagnosis.StatsHistory()
        #: The latest diagnosis had the vCPU time (for the reason).
        self._cpu_known = False
        self._episodes = Episodes(bounds, record)
        self._requests = requests or HostRequestBudget(
            bounds.requests_per_hour)
        self._request_ok_at = now
        #: Recovery requests and maintenance windows refused, ever.
        self.refused = 0
        self._maintenance: typing.List[typing.Tuple[float, float]] = []
        self._running = running
        self._crashed = self._agent_stopped = False
        #: Something answered (on any channel) since the domain started.
        self._heard = bool(record and record.same_boot and record.heard)
        #: The guest's agent session is open (hello, and no bye since, no
        #: closed channel, no new boot libvirt reported).
        self._session_open = False
        #: A bye suspended judgement since libvirt last reported a boot.
        self._bye_used = False
        self._boot_id = ""
        self._booted_at = now - (uptime or 0.0)
        self._boots = 0
        self._judge_from = self._grace_until = now
        self._unwell: typing.Tuple[vd.FailedComponent, ...] = ()
        self._configure_probes(now)
        self._settle(now, [])

    # -- the public surface -------------------------------------------------

    def tick(self, now: float) -> Actions:
        """Let time pass: timeouts, caps, grace, challenges that are due."""
        actions: Actions = []
        self._suspensions.expire(now)
        for probe in self._probes.values():
            probe.expire(now)
        self._judge(now, actions)
        self._settle(now, actions)
        self._challenge(now, actions)
        self._episodes.flush(now, actions)
        return actions

    def next_deadline(self) -> float:
        """When :meth:`tick` next has something to do."""
        # Called after every tick and signal: no lists, no generators, and
        # comparisons rather than min() (several times dearer in 3.11).
        deadline = self._suspensions.next_deadline()
        other = self._episodes.next_deadline()
        if other < deadline:
            deadline = other
        state = self.state
        if self._running and state is not S.SUSPENDED:
            for probe in self._probes.values():
                other = probe.next_deadline()
                if other < deadline:
                    deadline = other
        if state is S.STARTING:
            other = self._decision_time(self._grace_until)
        elif state in JUDGING and self._loss_can_fire():
            other = self._decision_time(self._loss_deadline())
        else:
            return deadline
        return other if other < deadline else deadline

    def forgive(self, now: float) -> None:
        """Forgive a time the host could not observe.

        After a stalled loop or a libvirtd restart, what went unanswered
        meanwhile does not count.
        """
        self._judge_from = max(self._judge_from, now)
        self._grace_until = max(
            self._grace_until,
            now + self.settings.interval * self.settings.failure_threshold)
        for probe in self._probes.values():
            probe.restart(now)

    def reconfigure(self, now: float, settings: Settings) -> None:
        """New settings (flavor or operator bounds changed)."""
        self.settings = self.bounds.clamp(settings)
        self._configure_probes(now)
        if self.state is S.STARTING:
            # A resize boots the guest with the new flavor's settings: the
            # grace is theirs, from that boot (a hello still ends it).
            self._grace_until = self._grace_end(now)
            if self._session_open:
                self._end_grace(now)

    def status(self, now: float) -> status.Status:
        return status.Status(
            state=self.state,
            fault_class=self._episodes.open_fault,
            channels=tuple(status.channel_status(c, p, now)
                           for c, p in self._probes.items()),
            suspended=self._suspensions.active(now),
            episode=self._episodes.number, violations=self.violations,
            refused=self.refused)

    def record(self) -> EpisodeRecord:
        """What to keep of this instance across a restart of the monitor."""
        return self._episodes.record(self._boots, self._heard)

    def deciding_soon(self, now: float) -> bool:
        """Whether a verdict may be decided within a failure window.

        The runtime samples the domain's statistics while this holds, so
        that the verdict has CPU evidence for its fault class. In a
        silence that is from the moment a challenge is half its timeout
        late, not only once one timed out: with a threshold of 2 and the
        timeout at the interval, the first timeout is the verdict's
        deadline.
        """
        if not self._running:
            return False
        window = self.settings.interval * self.settings.failure_threshold
        if self.state is S.STARTING:
            return self._grace_until <= now + window
        probe = self._primary()
        return (self.state in JUDGING and probe is not None
                and (probe.misses > 0 or probe.late(now))
                ) or self._may_escalate()

    def missed_total(self) -> int:
        """Challenges that went unanswered, ever, on every channel."""
        total = 0
        for probe in self._probes.values():
            total += probe.missed_total
        return total

    def fresh_round_trip(self, channel: sig.Channel,
                         now: float) -> typing.Optional[float]:
        """The round trip of an answer ``channel`` took at ``now``."""
        probe = self._probes.get(channel)
        if probe is None or probe.last_good != now:
            return None
        return probe.last_rtt

    def handle(self, now: float, signal: sig.Signal) -> Actions:
        """Take one observation; return what to do about it."""
        actions: Actions = []
        _HANDLERS[type(signal)](self, now, signal, actions)
        self._settle(now, actions)
        if type(signal) is sig.AgentGreeted and self.state is S.STARTING:
            self._end_grace(now)
        self._pace_qga(now)
        return actions

    def _end_grace(self, now: float) -> None:
        """A hello ends the grace: the agent runs, it must answer now.

        What is left is one failure window, as for any silence; a hello
        can never lengthen the grace.
        """
        window = self.settings.interval * self.settings.failure_threshold
        self._grace_until = min(self._grace_until, now + window)

    # -- observations -------------------------------------------------------

    def _on_answer(self, now: float, signal: sig.HeartbeatAnswered,
                   actions: Actions) -> None:
        probe = self._probes.get(HB)
        if probe is not None and probe.answered(now, signal.seq) is not None:
            self._heard = True
            self._health(now, probe, signal.health, signal.components,
                         actions)

    def _on_report(self, now: float, signal: sig.HealthReported,
                   actions: Actions) -> None:
        probe = self._probes.get(HB)
        if probe is not None:
            self._heard = True
            self._health(now, probe, signal.health, signal.components,
                         actions, answered=False)

    def _on_greeted(self, now: float, signal: sig.AgentGreeted,
                    actions: Actions) -> None:
        probe = self._probes.get(HB)
        if probe is None:
            return
        # Challenge the new session at once, but keep what is pending and
        # the misses: an agent that only ever says hello stays silent.
        probe.usable = True
        probe.hurry(now)
        self._agent_stopped = False
        self._suspensions.end(K.BYE)
        self._suspensions.end(K.AGENT_STOPPED)
        # A new boot id is a reboot only once the previous session ended
        # (bye, closed channel, or libvirt): a live session cannot buy
        # itself a new boot grace.
        rebooted = self._boot_id and signal.boot_id \
            and signal.boot_id != self._boot_id and not self._session_open
        self._boot_id = signal.boot_id or self._boot_id
        if rebooted:
            self._new_boot(now, actions)
            probe.usable = True
        self._heard = self._session_open = True

    def _on_left(self, now: float, signal: sig.AgentLeft,
                 actions: Actions) -> None:
        probe = self._probes.get(HB)
        if probe is None:
            return
        probe.usable = False
        self._heard, self._session_open = True, False
        # A bye suspends judgement once per boot libvirt reported: a
        # guest saying it again and again cannot stay unjudged.
        cap = now + self.bounds.max_lifecycle
        suspend, self._bye_used = not self._bye_used, True
        if signal.reason is not events.ByeReason.AGENT_STOP:
            if suspend:
                self._suspensions.begin(K.BYE, cap, signal.reason.value)
            return
        self._agent_stopped = True
        if QGA not in self._probes and suspend:
            self._suspensions.begin(K.AGENT_STOPPED, cap)

    def _on_maintenance(self, now: float, signal: sig.MaintenanceRequested,
                        actions: Actions) -> None:
        subject = events.AckSubject.MAINTENANCE
        self._heard = True
        if signal.duration == 0:
            self._suspensions.end(K.MAINTENANCE)
            actions.append(act.SendAck(subject, True, 0, "ended"))
            return
        granted, why = self._maintenance_grant(now, signal.duration)
        if granted <= 0:
            self.refused += 1
            actions.append(act.SendAck(subject, False, 0, why))
            return
        self._maintenance.append((now, granted + self.bounds.rearm_grace))
        self._suspensions.begin(K.MAINTENANCE, now + granted)
        actions.append(act.SendAck(subject, True, granted, why))

    def _maintenance_grant(self, now: float,
                           wanted: int) -> typing.Tuple[int, str]:
        """Seconds of maintenance to grant, and why not all of them.

        Each grant, and the re-arm grace that follows it, is charged to
        the instance's budget over a sliding window.
        """
        bounds = self.bounds
        since = now - bounds.maintenance_window
        self._maintenance = [g for g in self._maintenance if g[0] > since]
        left = bounds.maintenance_budget - sum(
            charged for _, charged in self._maintenance)
        left = int(max(0.0, left - bounds.rearm_grace))
        granted = min(wanted, bounds.max_maintenance, left)
        if bounds.max_maintenance <= 0:
            return 0, "maintenance windows are disabled by the operator"
        if granted <= 0:
            return 0, ("the maintenance budget of %d s per %d s is used up"
                       % (bounds.maintenance_budget,
                          bounds.maintenance_window))
        if granted == wanted:
            return granted, ""
        return granted, "clamped to %d s by the operator" % granted

    def _on_recovery(self, now: float, signal: sig.RecoveryRequested,
                     actions: Actions) -> None:
        subject = events.AckSubject.REQUEST
        self._heard = True
        refusal = self._request_refusal(now)
        if refusal:
            self.refused += 1
            actions.append(act.SendAck(subject, False, reason=refusal))
            return
        self._request_ok_at = now + self.bounds.request_cooldown
        actions.append(act.Report(dataclasses.replace(
            self._verdict(now, vd.VerdictKind.RECOVERY_REQUESTED,
                          vd.FaultClass.GUEST_REQUESTED),
            requested_action=signal.action.value,
            reason="the guest asked to be recovered (%s): %s"
            % (signal.action.value, signal.reason or "no reason given"))))
        actions.append(act.SendAck(subject, True))

    def _request_refusal(self, now: float) -> str:
        """Why a recovery request is refused now ("" if it is not).

        The budget of requests is their own (one per cooldown per
        instance, a cap per host and hour): never the verdicts'.
        """
        if self._suspensions.holds(K.OPERATION):
            return ("a platform operation is in progress; ask again when "
                    "it is over")
        if now < self._request_ok_at:
            return ("one recovery request per %d s; ask again in %d s"
                    % (self.bounds.request_cooldown,
                       self._request_ok_at - now + 1))
        if not self._requests.take(now):
            return ("this host granted %d recovery requests in the last "
                    "hour; ask again later" % self._requests.per_hour)
        return ""

    def _on_channel_connected(self, now: float,
                              signal: sig.ChannelConnected,
                              actions: Actions) -> None:
        probe = self._probes.get(signal.channel)
        if probe is not None and signal.channel is QGA:
            probe.usable = True
            probe.restart(now)
        if signal.channel is not QGA:
            self._suspensions.end(K.CHANNEL_CLOSED)

    def _on_channel_lost(self, now: float, signal: sig.ChannelLost,
                         actions: Actions) -> None:
        probe = self._probes.get(signal.channel)
        if probe is not None:
            probe.usable = False
        if signal.channel is HB:
            self._session_open = False
        if signal.closed_by_qemu:
            # QEMU is exiting (destroy, shutdown, crash) or restarting:
            # wait, briefly, for libvirt to say which.
            self._suspensions.begin(K.CHANNEL_CLOSED,
                                    now + QEMU_EXIT_GRACE, "closed")

    def _on_violation(self, now: float, signal: sig.ProtocolViolation,
                      actions: Actions) -> None:
        self.violations += signal.count

    def _on_qga_answer(self, now: float, signal: sig.QgaAnswered,
                       actions: Actions) -> None:
        probe = self._probes.get(QGA)
        if probe is None or probe.answered(now, signal.seq) is None:
            return
        self._heard = True
        if probe is self._primary():
            self._fire(now, T.GOOD, actions)

    def _on_qga_failed(self, now: float, signal: sig.QgaFailed,
                       actions: Actions) -> None:
        probe = self._probes.get(QGA)
        if probe is None:
            return
        if signal.error in _QGA_MISSES:
            probe.failed(signal.seq)
        else:
            probe.cancel(signal.seq)

    def _on_qga_lifecycle(self, now: float, signal: sig.QgaLifecycle,
                          actions: Actions) -> None:
        if signal.connected:
            self._on_channel_connected(now, sig.ChannelConnected(QGA),
                                       actions)
        else:
            self._on_channel_lost(now, sig.ChannelLost(QGA), actions)

    def _on_domain(self, now: float, signal: sig.DomainEvent,
                   actions: Actions) -> None:
        event = signal.lifecycle
        if event in (sig.Lifecycle.STARTED, sig.Lifecycle.REBOOTED):
            self._bye_used = False
            self._new_boot(now, actions)
        elif event is sig.Lifecycle.CRASHED:
            self._crashed = True
            self._fire(now, T.CRASH, actions, vd.FaultClass.GUEST_CRASHED)
        elif event is sig.Lifecycle.SHUTTING_DOWN:
            self._suspensions.begin(K.LIFECYCLE,
                                    now + self.bounds.max_lifecycle,
                                    "shutdown")
        elif event is sig.Lifecycle.STOPPED:
            self._session_open = False
            self._suspensions.end(K.LIFECYCLE)
            self._suspensions.end(K.BYE)
            self._suspensions.end(K.CHANNEL_CLOSED)
        self._running = sig.RUNS_AFTER.get(event, self._running)

    def _on_stats(self, now: float, signal: sig.DomainStats,
                  actions: Actions) -> None:
        self._stats.add(diagnosis.Sample(now, signal.cpu_time,
                                         signal.io_ops))

    def _on_operation_started(self, now: float,
                              signal: sig.OperationStarted,
                              actions: Actions) -> None:
        self._suspensions.begin(K.OPERATION, now + self.bounds.max_operation,
                                signal.operation.value)

    def _on_operation_finished(self, now: float,
                               signal: sig.OperationFinished,
                               actions: Actions) -> None:
        self._suspensions.end(K.OPERATION, signal.operation.value)

    # -- deciding -----------------------------------------------------------

    def _primary(self) -> typing.Optional[Probe]:
        if HB in self._probes and not self._agent_stopped:
            return self._probes[HB]
        return self._probes.get(QGA)

    def _silence_start(self, probe: Probe) -> float:
        return max(probe.last_good or self._judge_from, self._judge_from)

    def _loss_deadline(self) -> float:
        probe = self._primary()
        if probe is None:
            return float("inf")
        return (self._silence_start(probe)
                + self.settings.interval * self.settings.failure_threshold)

    def _loss_can_fire(self) -> bool:
        """Tell whether silence alone can make a loss now.

        It can when a challenge went unanswered, or when the deciding
        channel cannot be challenged at all. Without either (a challenge
        still in flight, QGA calls that failed for reasons that are not the
        guest's), the next probe deadline decides, not the loss deadline.
        """
        probe = self._primary()
        return probe is not None and (probe.misses > 0 or not probe.usable)

    def _judge(self, now: float, actions: Actions) -> None:
        probe = self._primary()
        if self.state is S.STARTING:
            if now >= self._decision_time(self._grace_until):
                self._fire(now, T.GRACE_EXPIRED, actions,
                           self._diagnose(now))
        elif self.state in JUDGING and probe is not None:
            if probe.misses and self.state is not S.SUSPECT:
                self._fire(now, T.MISS, actions)
            if self._loss_can_fire() and now >= self._decision_time(
                    self._loss_deadline()):
                self._fire(now, T.LOST, actions, self._diagnose(now))
        elif self._may_escalate() and now >= self._loss_deadline():
            self._escalate(now, actions)

    def _may_escalate(self) -> bool:
        """Whether a failed instance may yet turn out worse.

        ``agent_failure`` (the guest ran, only our agent was silent) may
        become a hung or frozen guest later, with the same silence: that
        is a new decision (FAILED -> FAILED), reported within the episode.
        """
        return (self.state is S.FAILED and self._running
                and self._episodes.open_fault in ESCALATES
                and self._loss_can_fire())

    def _escalate(self, now: float, actions: Actions) -> None:
        """Report the open episode again if it turned worse.

        QGA must have been silent for a whole failure window, as our
        channel had to be for the first verdict.
        """
        qga = self._probes.get(QGA)
        window = self.settings.interval * self.settings.failure_threshold
        if qga is not None and qga.last_good is not None \
                and now - qga.last_good < window:
            return
        fault = self._diagnose(now)
        if fault not in ESCALATES and fault is not vd.FaultClass.AGENT_ABSENT:
            self._episodes.escalate(now, self._verdict(
                now, vd.VerdictKind.HEARTBEAT_LOST, fault, False), actions)

    def _decision_time(self, deadline: float) -> float:
        """When a silence due at ``deadline`` is decided.

        At its deadline, unless its CPU evidence is short: sampling began
        but covers less than ``EVIDENCE_SPAN``. Then once it does, or
        ``EVIDENCE_WAIT`` after the deadline (the samples arrive between
        two calls: each is a signal, after which this is asked again).
        Without any sample (no statistics here) nothing is waited for,
        nor where the fault class does not depend on the CPU time.
        """
        if self._crashed or self._agent_stopped:
            return deadline
        covered = self._stats.span_since(
            deadline - self.settings.interval
            * self.settings.failure_threshold)
        if covered is None or covered >= min(diagnosis.EVIDENCE_SPAN,
                                             self.settings.interval):
            return deadline
        return deadline + diagnosis.EVIDENCE_WAIT

    def _diagnose(self, now: float) -> vd.FaultClass:
        settings = self.settings
        window_start = now - settings.interval * settings.failure_threshold
        # QGA proves the guest alive only if it answered its latest
        # challenge, not merely before the silence began.
        alive_since = now - (settings.interval + settings.timeout)
        qga = self._probes.get(QGA)
        covered, cpu, io = self._stats.deltas(
            window_start, span=max(diagnosis.EVIDENCE_SPAN, settings.interval))
        self._cpu_known = cpu is not None
        heartbeat = self._probes.get(HB)
        return diagnosis.classify(diagnosis.Evidence(
            crashed=self._crashed,
            heartbeat_silent=heartbeat is not None and (
                self._primary() is heartbeat or qga is None),
            qga_configured=qga is not None,
            qga_recent=bool(qga and qga.last_good is not None
                            and qga.last_good >= alive_since),
            qga_unknown=bool(qga and qga.unknown),
            agent_stopped=self._agent_stopped, heard=self._heard,
            stats_window=covered, cpu_used=cpu, io_ops=io))

    def _settle(self, now: float, actions: Actions) -> None:
        """Derive INACTIVE / SUSPENDED / re-armed from the conditions."""
        if not self._running:
            self._fire(now, T.HALT, actions)
        elif self._suspensions:
            self._fire(now, T.SUSPEND, actions)
        elif self.state in (S.SUSPENDED, S.INACTIVE):
            self._fire(now, T.RESUME, actions)

    def _pace_qga(self, now: float) -> None:
        """QGA on demand: rare while our heartbeat answers, else at once.

        While our channel decides and answers, QGA is only checked every
        ``qga_check_interval``. On our channel's first miss (or when it
        cannot decide: no hello yet, the agent left) QGA is challenged at
        once and then every interval, so that QGA's answer is fresh when
        a verdict's fault class is decided.
        """
        qga = self._probes.get(QGA)
        if qga is None:
            return
        heartbeat = self._probes.get(HB)
        relaxed = (heartbeat is not None and heartbeat.usable
                   and not heartbeat.misses
                   and self._primary() is heartbeat
                   and self.state in RELAXED)
        interval = self.settings.interval
        if relaxed:
            interval = max(interval, self.bounds.qga_check_interval)
        if interval == qga.interval:
            return
        qga.configure(interval, self.settings.timeout)
        if not relaxed:
            qga.hurry(now)

    def _challenge(self, now: float, actions: Actions) -> None:
        self._pace_qga(now)
        if not self._running or self.state is S.SUSPENDED:
            return
        for channel, probe in self._probes.items():
            seq = probe.due(now)
            if seq is None:
                continue
            actions.append(act.SendChallenge(seq) if channel is HB
                           else act.SyncAgent(seq, self.settings.timeout))

    # -- moving -------------------------------------------------------------

    def _fire(self, now: float, trigger: Trigger, actions: Actions,
              fault: typing.Optional[vd.FaultClass] = None) -> None:
        old = self.state
        new = next_state(old, trigger)
        if new is old:
            return
        self.state = new
        if new is S.STARTING:
            self._rearm(now)
        elif new is S.HEALTHY:
            self._close_episode(now, actions)
        elif new is S.UNHEALTHY:
            self._close_episode(now, actions, keep=vd.VerdictKind
                                .HEALTH_CHECK_FAILED)
            self._open_episode(now, vd.VerdictKind.HEALTH_CHECK_FAILED,
                               vd.FaultClass.APP_UNHEALTHY, actions)
        elif new is S.FAILED:
            assert fault is not None or trigger is not T.LOST
            self._open_episode(now, vd.VerdictKind.HEARTBEAT_LOST,
                               fault or vd.FaultClass.GUEST_CRASHED,
                               actions)

    def _rearm(self, now: float) -> None:
        self._grace_until = self._grace_end(now)
        self._judge_from = now
        for probe in self._probes.values():
            probe.restart(now)

    def _grace_end(self, now: float) -> float:
        """The rest of the boot grace, at least the re-arm grace."""
        return now + max(self.bounds.rearm_grace,
                         self._booted_at + self.settings.boot_grace - now)

    def _configure_probes(self, now: float) -> None:
        wanted = {HB: self.settings.heartbeat, QGA: self.settings.qga}
        for channel, enabled in wanted.items():
            if not enabled:
                self._probes.pop(channel, None)
                continue
            probe = self._probes.get(channel)
            if probe is None:
                probe = self._probes[channel] = Probe(
                    self.settings.interval, self.settings.timeout,
                    self._spread)
                # Ours is usable once the agent says hello; QGA at once.
                probe.usable = channel is QGA
                probe.restart(now)
            probe.configure(self.settings.interval, self.settings.timeout)

    def _new_boot(self, now: float, actions: Actions) -> None:
        self._running, self._crashed = True, False
        self._boots += 1
        self._booted_at = now
        self._heard = self._session_open = False
        self._stats.clear()
        self._suspensions.end(K.LIFECYCLE)
        self._suspensions.end(K.BYE)
        if HB in self._probes:
            self._probes[HB].usable = False  # until the agent says hello
        self._fire(now, T.BOOT, actions)

    def _health(self, now: float, probe: Probe, health: events.Health,
                components: typing.Tuple[events.Component, ...],
                actions: Actions, answered: bool = True) -> None:
        """Take the guest's word on its health.

        Only an answer to a challenge proves the guest alive (``answered``):
        an unsolicited report can make it unhealthy, never healthy.
        """
        self._unwell = tuple(
            vd.FailedComponent(c.name, c.reason, c.progress)
            for c in components if c.status is events.Health.FAILED
        ) if components else ()
        if probe is not self._primary():
            return
        if health is not events.Health.OK or self._unwell:
            self._fire(now, T.UNWELL, actions)
        elif answered:
            self._fire(now, T.GOOD, actions)

    # -- reporting ----------------------------------------------------------

    def _open_episode(self, now: float, kind: vd.VerdictKind,
                      fault: vd.FaultClass, actions: Actions) -> None:
        if not self._episodes.is_open(kind, self._boots):
            self._episodes.open(now, self._verdict(now, kind, fault),
                                self._boots, actions)

    def _close_episode(self, now: float, actions: Actions,
                       keep: typing.Optional[vd.VerdictKind] = None) -> None:
        restored = vd.VerdictKind.HEARTBEAT_RESTORED
        self._episodes.close(self._verdict(now, restored, None), actions,
                             keep)

    def _verdict(self, now: float, kind: vd.VerdictKind,
                 fault: typing.Optional[vd.FaultClass],
                 new_episode: bool = True) -> vd.Verdict:
        """Build a verdict of a new episode (``new_episode``).

        With no fault, a restored verdict for :meth:`.Episodes.close` to
        complete; without ``new_episode``, one numbered by its caller.
        """
        probe = self._primary()
        goods = [p.last_good for p in self._probes.values()
                 if p.last_good is not None]
        fault = fault or vd.FaultClass.GUEST_HUNG
        return vd.Verdict(
            kind=kind, fault_class=fault, severity=vd.SEVERITIES[fault],
            episode=self._episodes.next_number() if new_episode
            and kind is not vd.VerdictKind.HEARTBEAT_RESTORED else 0,
            reason=vd.reason(kind, fault, cpu_known=self._cpu_known),
            silent_for=(now - max(goods)) if goods else None,
            missed=probe.misses if probe else 0,
            channels=tuple(c.value for c in self._probes),
            components=self._unwell)


_Handler = typing.Callable[[InstanceMonitor, float, typing.Any, Actions],
                           None]

#: signal class -> the method that takes it
_HANDLERS: typing.Dict[type, _Handler] = {
    sig.HeartbeatAnswered: InstanceMonitor._on_answer,
    sig.HealthReported: InstanceMonitor._on_report,
    sig.AgentGreeted: InstanceMonitor._on_greeted,
    sig.AgentLeft: InstanceMonitor._on_left,
    sig.MaintenanceRequested: InstanceMonitor._on_maintenance,
    sig.RecoveryRequested: InstanceMonitor._on_recovery,
    sig.ChannelConnected: InstanceMonitor._on_channel_connected,
    sig.ChannelLost: InstanceMonitor._on_channel_lost,
    sig.ProtocolViolation: InstanceMonitor._on_violation,
    sig.QgaAnswered: InstanceMonitor._on_qga_answer,
    sig.QgaFailed: InstanceMonitor._on_qga_failed,
    sig.QgaLifecycle: InstanceMonitor._on_qga_lifecycle,
    sig.DomainEvent: InstanceMonitor._on_domain,
    sig.DomainStats: InstanceMonitor._on_stats,
    sig.OperationStarted: InstanceMonitor._on_operation_started,
    sig.OperationFinished: InstanceMonitor._on_operation_finished,
}
