"""The core of the per-instance verdict machine: deciding and moving.

:class:`Judge` holds an instance's state and decides from it: which channel
decides, when silence becomes a loss, which fault class a loss has, which
trigger the conditions amount to, and what entering a state means (re-arm,
report, close an episode). :class:`.machine.InstanceMonitor` adds the
observations on top.
"""

from __future__ import annotations

import typing

from nova_vm_heartbeat.monitor import actions as act
from nova_vm_heartbeat.monitor import diagnosis
from nova_vm_heartbeat.monitor.episodes import Episodes
from nova_vm_heartbeat.monitor.policy import Bounds
from nova_vm_heartbeat.monitor.policy import Settings
from nova_vm_heartbeat.monitor.probes import Probe
from nova_vm_heartbeat.monitor import signals as sig
from nova_vm_heartbeat.monitor import state as st
from nova_vm_heartbeat.monitor import status
from nova_vm_heartbeat.monitor.suspensions import Suspensions
from nova_vm_heartbeat.monitor import verdicts as vd
from nova_vm_heartbeat.protocol import events

S = st.MonitorState
T = st.Trigger
HB = sig.Channel.HEARTBEAT
QGA = sig.Channel.QGA

Actions = typing.List[act.Action]


class Judge:
    """The state and decisions of one instance (see the module doc)."""

    def __init__(self, settings: Settings, bounds: Bounds, now: float,
                 running: bool = True,
                 uptime: typing.Optional[float] = None):
        """Start judging an instance.

        :param running: whether the domain runs now.
        :param uptime: how long the domain has run, if known: an instance
            found running (monitor restart) gets the short re-arm grace,
            a fresh boot the whole boot grace.
        """
        self.bounds = bounds
        self.settings = bounds.clamp(settings)
        self.state = S.INACTIVE
        self.violations = 0
        self._probes: typing.Dict[sig.Channel, Probe] = {}
        self._suspensions = Suspensions()
        self._stats = diagnosis.StatsHistory()
        self._episodes = Episodes(bounds)
        self._running = running
        self._crashed = self._agent_stopped = False
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
        return actions

    def next_deadline(self) -> float:
        """When :meth:`tick` next has something to do."""
        # Called after every tick and signal: no lists, no generators.
        deadline = self._suspensions.next_deadline()
        if self._running and self.state is not S.SUSPENDED:
            for probe in self._probes.values():
                deadline = min(deadline, probe.next_deadline())
        if self.state is S.STARTING:
            deadline = min(deadline, self._grace_until)
        elif self.state in st.JUDGING and self._loss_can_fire():
            deadline = min(deadline, self._loss_deadline())
        return deadline

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

    def status(self, now: float) -> status.Status:
        return status.Status(
            state=self.state,
            fault_class=self._episodes.open_fault,
            channels=tuple(status.channel_status(c, p, now)
                           for c, p in self._probes.items()),
            suspended=self._suspensions.active(now),
            episode=self._episodes.number, violations=self.violations)

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
        if self.state is S.STARTING and now >= self._grace_until:
            self._fire(now, T.GRACE_EXPIRED, actions, self._diagnose(now))
        elif self.state in st.JUDGING and probe is not None:
            if probe.misses and self.state is not S.SUSPECT:
                self._fire(now, T.MISS, actions)
            if self._loss_can_fire() and now >= self._loss_deadline():
                self._fire(now, T.LOST, actions, self._diagnose(now))

    def _diagnose(self, now: float) -> vd.FaultClass:
        settings = self.settings
        window_start = now - settings.interval * settings.failure_threshold
        # QGA proves the guest alive only if it answered its latest
        # challenge, not merely before the silence began.
        alive_since = now - (settings.interval + settings.timeout)
        qga = self._probes.get(QGA)
        covered, cpu, io = self._stats.deltas(window_start)
        heartbeat = self._probes.get(HB)
        return diagnosis.classify(diagnosis.Evidence(
            crashed=self._crashed,
            heartbeat_silent=heartbeat is not None and (
                self._primary() is heartbeat or qga is None),
            qga_configured=qga is not None,
            qga_recent=bool(qga and qga.last_good is not None
                            and qga.last_good >= alive_since),
            qga_unknown=bool(qga and qga.unknown),
            agent_stopped=self._agent_stopped,
            stats_window=covered, cpu_used=cpu, io_ops=io))

    def _settle(self, now: float, actions: Actions) -> None:
        """Derive INACTIVE / SUSPENDED / re-armed from the conditions."""
        if not self._running:
            self._fire(now, T.HALT, actions)
        elif self._suspensions:
            self._fire(now, T.SUSPEND, actions)
        elif self.state in (S.SUSPENDED, S.INACTIVE):
            self._fire(now, T.RESUME, actions)

    def _challenge(self, now: float, actions: Actions) -> None:
        if not self._running or self.state is S.SUSPENDED:
            return
        for channel, probe in self._probes.items():
            seq = probe.due(now)
            if seq is None:
                continue
            actions.append(act.SendChallenge(seq) if channel is HB
                           else act.SyncAgent(seq, self.settings.timeout))

    # -- moving -------------------------------------------------------------

    def _fire(self, now: float, trigger: st.Trigger, actions: Actions,
              fault: typing.Optional[vd.FaultClass] = None) -> None:
        old = self.state
        new = st.next_state(old, trigger)
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
        grace = max(self.bounds.rearm_grace,
                    self._booted_at + self.settings.boot_grace - now)
        self._grace_until = now + grace
        self._judge_from = now
        for probe in self._probes.values():
            probe.restart(now)

    def _configure_probes(self, now: float) -> None:
        wanted = {HB: self.settings.heartbeat, QGA: self.settings.qga}
        for channel, enabled in wanted.items():
            if not enabled:
                self._probes.pop(channel, None)
                continue
            probe = self._probes.get(channel)
            if probe is None:
                probe = self._probes[channel] = Probe(
                    self.settings.interval, self.settings.timeout)
                # Ours is usable once the agent says hello; QGA at once.
                probe.usable = channel is QGA
                probe.restart(now)
            probe.configure(self.settings.interval, self.settings.timeout)

    def _new_boot(self, now: float, actions: Actions) -> None:
        self._running, self._crashed = True, False
        self._boots += 1
        self._booted_at = now
        self._stats.clear()
        self._suspensions.end_matching("lifecycle:")
        self._suspensions.end_matching("bye:")
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
            for c in components if c.status is events.Health.FAILED)
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
            self._episodes.report(now, self._verdict(now, kind, fault),
                                  self._boots, actions)

    def _close_episode(self, now: float, actions: Actions,
                       keep: typing.Optional[vd.VerdictKind] = None) -> None:
        restored = vd.VerdictKind.HEARTBEAT_RESTORED
        self._episodes.close(self._verdict(now, restored, None), actions,
                             keep)

    def _verdict(self, now: float, kind: vd.VerdictKind,
                 fault: typing.Optional[vd.FaultClass]) -> vd.Verdict:
        """Build a verdict of a new episode.

        With no fault, a restored verdict for :meth:`.Episodes.close` to
        complete.
        """
        probe = self._primary()
        goods = [p.last_good for p in self._probes.values()
                 if p.last_good is not None]
        fault = fault or vd.FaultClass.GUEST_HUNG
        return vd.Verdict(
            kind=kind, fault_class=fault, severity=vd.SEVERITIES[fault],
            episode=0 if kind is vd.VerdictKind.HEARTBEAT_RESTORED
            else self._episodes.next_number(),
            reason=vd.REASONS[kind, fault],
            silent_for=(now - max(goods)) if goods else None,
            missed=probe.misses if probe else 0,
            channels=tuple(c.value for c in self._probes),
            components=self._unwell)
