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
from nova_vm_heartbeat.monitor.judge import QGA
from nova_vm_heartbeat.monitor.judge import T
from nova_vm_heartbeat.monitor import signals as sig
from nova_vm_heartbeat.monitor import verdicts as vd
from nova_vm_heartbeat.protocol import events

#: After QEMU closed the heartbeat socket, judgement waits at most this
#: long for libvirt to say the domain stopped (libvirt gives QEMU 10 s to
#: exit after SIGTERM before it kills it; a TCG guest was seen to take 2 s)
#: or for the socket to come back.
QEMU_EXIT_GRACE = 15.0
QEMU_EXIT_REASON = "channel:closed"

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
        return actions

    # -- observations -------------------------------------------------------

    def _on_answer(self, now: float, signal: sig.HeartbeatAnswered,
                   actions: Actions) -> None:
        probe = self._probes.get(HB)
        if probe is not None and probe.answered(now, signal.seq) is not None:
            self._health(now, probe, signal.health, signal.components,
                         actions)

    def _on_report(self, now: float, signal: sig.HealthReported,
                   actions: Actions) -> None:
        probe = self._probes.get(HB)
        if probe is not None:
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
        self._suspensions.end_matching("bye:")
        self._suspensions.end("agent_stopped")
        rebooted = self._boot_id and signal.boot_id \
            and signal.boot_id != self._boot_id
        self._boot_id = signal.boot_id or self._boot_id
        if rebooted:
            self._new_boot(now, actions)
            probe.usable = True

    def _on_left(self, now: float, signal: sig.AgentLeft,
                 actions: Actions) -> None:
        probe = self._probes.get(HB)
        if probe is None:
            return
        probe.usable = False
        cap = now + self.bounds.max_lifecycle
        if signal.reason is not events.ByeReason.AGENT_STOP:
            self._suspensions.begin("bye:" + signal.reason.value, cap)
            return
        self._agent_stopped = True
        if QGA not in self._probes:
            self._suspensions.begin("agent_stopped", cap)

    def _on_maintenance(self, now: float, signal: sig.MaintenanceRequested,
                        actions: Actions) -> None:
        subject = events.AckSubject.MAINTENANCE
        if signal.duration == 0:
            self._suspensions.end("maintenance")
            actions.append(act.SendAck(subject, True, 0, "ended"))
            return
        granted = min(signal.duration, self.bounds.max_maintenance)
        self._suspensions.begin("maintenance", now + granted)
        clamped = "" if granted == signal.duration else (
            "clamped to %d s by the operator" % granted)
        actions.append(act.SendAck(subject, True, granted, clamped))

    def _on_recovery(self, now: float, signal: sig.RecoveryRequested,
                     actions: Actions) -> None:
        subject = events.AckSubject.REQUEST
        if any(r.startswith("operation:")
               for r in self._suspensions.active(now)):
            actions.append(act.SendAck(
                subject, False, reason="a platform operation is in "
                "progress; ask again when it is over"))
            return
        verdict = dataclasses.replace(
            self._verdict(now, vd.VerdictKind.RECOVERY_REQUESTED,
                          vd.FaultClass.GUEST_REQUESTED),
            requested_action=signal.action.value,
            reason="the guest asked to be recovered (%s): %s"
            % (signal.action.value, signal.reason or "no reason given"))
        accepted = self._episodes.report(now, verdict, self._boots, actions)
        actions.append(act.SendAck(subject, accepted, reason="" if accepted
                                   else "too many reports for this "
                                   "instance; ask again later"))

    def _on_channel_connected(self, now: float,
                              signal: sig.ChannelConnected,
                              actions: Actions) -> None:
        probe = self._probes.get(signal.channel)
        if probe is not None and signal.channel is QGA:
            probe.usable = True
            probe.restart(now)
        if signal.channel is not QGA:
            self._suspensions.end(QEMU_EXIT_REASON)

    def _on_channel_lost(self, now: float, signal: sig.ChannelLost,
                         actions: Actions) -> None:
        probe = self._probes.get(signal.channel)
        if probe is not None:
            probe.usable = False
        if signal.closed_by_qemu:
            # QEMU is exiting (destroy, shutdown, crash) or restarting:
            # wait, briefly, for libvirt to say which.
            self._suspensions.begin(QEMU_EXIT_REASON,
                                    now + QEMU_EXIT_GRACE)

    def _on_violation(self, now: float, signal: sig.ProtocolViolation,
                      actions: Actions) -> None:
        self.violations += signal.count

    def _on_qga_answer(self, now: float, signal: sig.QgaAnswered,
                       actions: Actions) -> None:
        probe = self._probes.get(QGA)
        if probe is None or probe.answered(now, signal.seq) is None:
            return
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
            self._new_boot(now, actions)
        elif event is sig.Lifecycle.CRASHED:
            self._crashed = True
            self._fire(now, T.CRASH, actions, vd.FaultClass.GUEST_CRASHED)
        elif event is sig.Lifecycle.SHUTTING_DOWN:
            self._suspensions.begin("lifecycle:shutdown",
                                    now + self.bounds.max_lifecycle)
        else:
            self._running = event is sig.Lifecycle.RESUMED
            if event is sig.Lifecycle.STOPPED:
                self._suspensions.end_matching("lifecycle:")
                self._suspensions.end_matching("bye:")
                self._suspensions.end(QEMU_EXIT_REASON)

    def _on_stats(self, now: float, signal: sig.DomainStats,
                  actions: Actions) -> None:
        self._stats.add(diagnosis.Sample(now, signal.cpu_time,
                                         signal.io_ops))

    def _on_operation_started(self, now: float,
                              signal: sig.OperationStarted,
                              actions: Actions) -> None:
        self._suspensions.begin("operation:" + signal.operation.value,
                                now + self.bounds.max_operation)

    def _on_operation_finished(self, now: float,
                               signal: sig.OperationFinished,
                               actions: Actions) -> None:
        self._suspensions.end("operation:" + signal.operation.value)


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
