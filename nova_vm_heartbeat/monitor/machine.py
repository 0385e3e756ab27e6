"""The verdict state machine of one instance: pure, clock injected.

:class:`InstanceMonitor` takes observations (:mod:`.signals`) and the time,
and returns what to do (:mod:`.actions`): send challenges, answer the
guest, report verdicts. The transition table is :mod:`.state`; deciding
and moving are in :mod:`.judge`; this module turns each observation into
what it means for the instance.

The channel that decides is the *primary*: our heartbeat channel when the
instance has it and the agent has not retired, else QGA. The other channel
and the domain statistics are evidence for the fault class.
"""

from __future__ import annotations

import dataclasses
import typing

from nova_vm_heartbeat.monitor import actions as act
from nova_vm_heartbeat.monitor import diagnosis
from nova_vm_heartbeat.monitor.judge import Actions
from nova_vm_heartbeat.monitor.judge import HB
from nova_vm_heartbeat.monitor.judge import Judge
from nova_vm_heartbeat.monitor.judge import K
from nova_vm_heartbeat.monitor.judge import QGA
from nova_vm_heartbeat.monitor.judge import S
from nova_vm_heartbeat.monitor.judge import T
from nova_vm_heartbeat.monitor import signals as sig
from nova_vm_heartbeat.monitor import verdicts as vd
from nova_vm_heartbeat.protocol import events

#: After QEMU closed the heartbeat socket, judgement waits at most this
#: long for libvirt to say the domain stopped (libvirt gives QEMU 10 s to
#: exit after SIGTERM before it kills it; a TCG guest was seen to take 2 s)
#: or for the socket to come back.
QEMU_EXIT_GRACE = 15.0

#: libvirt errors of a QGA sync that count as a miss.
_QGA_MISSES = frozenset({sig.AgentError.UNRESPONSIVE,
                         sig.AgentError.NOT_CONNECTED})


class InstanceMonitor(Judge):
    """Judges one instance. Not thread safe: one caller at a time."""

    def handle(self, now: float, signal: sig.Signal) -> Actions:
        """Take one observation; return what to do about it."""
        actions: Actions = []
        _HANDLERS[type(signal)](self, now, signal, actions)
        self._settle(now, actions)
        if type(signal) is sig.AgentGreeted and self.state is S.STARTING:
            self._end_grace(now)
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
        self.violations += 1

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
