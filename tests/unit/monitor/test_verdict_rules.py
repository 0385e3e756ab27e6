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

"""The rules that make a verdict safe to act on, as stories.

Each story is one defect class an operator would hit: a verdict dropped,
a grace the guest renews, a verdict without evidence, an episode a
restart forgets (see doc/source/reference/verdicts.rst).
"""

from __future__ import annotations

import dataclasses

from nova_vm_heartbeat.monitor.episodes import EpisodeRecord
from nova_vm_heartbeat.monitor.machine import MonitorState as S
from nova_vm_heartbeat.monitor.requests import HostRequestBudget
from nova_vm_heartbeat.monitor import signals as sig
from nova_vm_heartbeat.monitor import verdicts as vd
from nova_vm_heartbeat.protocol import events
from tests.unit.monitor.sim import BOUNDS
from tests.unit.monitor.sim import FAST
from tests.unit.monitor.sim import Guest
from tests.unit.monitor.sim import Sim

LOST = "instance.heartbeat_lost"
RESTORED = "instance.heartbeat_restored"
REQUESTED = "instance.recovery_requested"
WINDOW = FAST.interval * FAST.failure_threshold
REBOOT = events.RecoveryAction.REBOOT


def healthy_sim(**kwargs: object) -> Sim:
    sim = Sim(**kwargs)  # type: ignore[arg-type]
    sim.run(10)
    assert sim.state() is S.HEALTHY and sim.reports == []
    return sim


def hang(sim: Sim) -> None:
    sim.guest.heartbeat = sim.guest.qga = False


def heal(sim: Sim) -> None:
    sim.guest.heartbeat = sim.guest.qga = True


def flap(sim: Sim, times: int) -> None:
    """Hang long enough for a verdict, then answer again, ``times``."""
    for _ in range(times):
        hang(sim)
        sim.run(6)
        heal(sim)
        sim.run(3)


def assert_paired(verdicts: list[vd.Verdict]) -> None:
    """Every lost verdict is followed by its restored one, in order."""
    open_episode = None
    for verdict in verdicts:
        if verdict.kind is vd.VerdictKind.HEARTBEAT_LOST:
            assert open_episode is None
            open_episode = verdict.episode
        elif verdict.kind is vd.VerdictKind.HEARTBEAT_RESTORED:
            assert verdict.episode == open_episode
            open_episode = None


# -- 2. no verdict is ever dropped --------------------------------------------

def test_a_hang_after_flapping_is_reported_when_the_limit_allows() -> None:
    """Five flaps used the burst; the hang that follows is still reported."""
    sim = healthy_sim()
    flap(sim, BOUNDS.verdict_burst)
    hang(sim)
    sim.run(6)
    assert sim.state() is S.FAILED
    assert len(sim.verdicts) == 2 * BOUNDS.verdict_burst  # held back
    sim.run(BOUNDS.verdict_interval + 2)
    assert sim.verdicts[-1].kind.value == LOST
    assert sim.reports[-1][0] <= sim.now
    heal(sim)
    sim.run(3)
    assert sim.verdicts[-1].kind.value == RESTORED
    assert_paired(sim.verdicts)


def test_flaps_held_back_are_coalesced_never_lost() -> None:
    sim = healthy_sim()
    flap(sim, BOUNDS.verdict_burst + 3)
    assert_paired(sim.verdicts)
    sim.run(BOUNDS.verdict_interval)
    hang(sim)
    sim.run(6)
    last = sim.verdicts[-1]
    assert last.kind.value == LOST and last.suppressed == 3
    assert_paired(sim.verdicts)


def test_requests_do_not_spend_the_verdict_budget() -> None:
    sim = healthy_sim()
    for _ in range(BOUNDS.verdict_burst * 2):
        sim.signal(sig.RecoveryRequested(REBOOT, "please"))
    hang(sim)
    start = sim.now
    sim.run(WINDOW + 1)
    assert sim.kinds() == [(REQUESTED, "guest_requested"),
                           (LOST, "guest_hung")]
    assert sim.reports[-1][0] - start <= WINDOW + 0.5


def test_a_request_storm_gives_one_recovery_requested() -> None:
    sim = healthy_sim()
    for _ in range(50):
        sim.signal(sig.RecoveryRequested(REBOOT, "storm"))
        sim.now += 0.001
    assert sim.kinds() == [(REQUESTED, "guest_requested")]
    refused = [a for a in sim.acks if not a.accepted]
    assert len(refused) == 49 and sim.monitor.refused == 49
    assert all("one recovery request per" in a.reason for a in refused)
    sim.run(BOUNDS.request_cooldown)
    sim.signal(sig.RecoveryRequested(REBOOT, "again"))
    assert sim.kinds() == [(REQUESTED, "guest_requested")] * 2


def test_the_host_caps_requests_per_hour() -> None:
    budget = HostRequestBudget(2)
    guests = [healthy_sim(requests=budget) for _ in range(3)]
    for guest in guests:
        guest.signal(sig.RecoveryRequested(REBOOT, "me"))
    assert [len(g.reports) for g in guests] == [1, 1, 0]
    assert "recovery requests in the last hour" in guests[2].acks[-1].reason
    assert budget.take(guests[2].now + 3601)


# -- 3. grace cannot be renewed by the guest ----------------------------------

def test_a_hello_ends_the_boot_grace() -> None:
    """A guest that says hello and then nothing is judged at once."""
    sim = Sim(guest=Guest(heartbeat=False, qga=False), greet=False)
    sim.run(5)
    hello = sim.now
    sim.signal(sig.AgentGreeted("boot-1"))
    sim.run(FAST.boot_grace)
    assert sim.kinds() == [(LOST, "guest_hung")]
    assert sim.reports[0][0] - hello <= WINDOW + 0.5


def test_new_boot_ids_on_a_live_session_buy_no_grace() -> None:
    sim = healthy_sim()
    hang(sim)
    start = sim.now
    for boot in range(20):
        sim.run(0.4)
        sim.signal(sig.AgentGreeted("boot-%d" % (boot + 2)))
    assert sim.kinds() == [(LOST, "guest_hung")]
    assert sim.reports[0][0] - start <= WINDOW + 0.5


def test_a_new_boot_id_after_bye_is_a_reboot() -> None:
    sim = healthy_sim()
    sim.signal(sig.AgentLeft(events.ByeReason.REBOOT))
    sim.run(3)
    sim.signal(sig.AgentGreeted("boot-2"))
    sim.run(5)
    assert sim.state() is S.HEALTHY and sim.reports == []


def test_byes_suspend_once_per_boot() -> None:
    """A hung guest repeating bye is judged after the first cap."""
    sim = healthy_sim()
    hang(sim)
    for _ in range(20):
        sim.signal(sig.AgentLeft(events.ByeReason.SHUTDOWN))
        sim.run(BOUNDS.max_lifecycle / 2)
    assert sim.kinds() == [(LOST, "guest_hung")]
    assert sim.reports[0][0] <= (1010 + BOUNDS.max_lifecycle
                                 + BOUNDS.rearm_grace + WINDOW + 1)


def test_maintenance_granted_zero_is_a_refusal() -> None:
    bounds = dataclasses.replace(BOUNDS, max_maintenance=0)
    sim = healthy_sim(bounds=bounds)
    hang(sim)
    start = sim.now
    sim.signal(sig.MaintenanceRequested(120, "upgrade"))
    ack = sim.acks[-1]
    assert not ack.accepted and ack.granted == 0 and "disabled" in ack.reason
    assert sim.state() is not S.SUSPENDED
    sim.run(WINDOW + 1)
    assert sim.kinds() == [(LOST, "guest_hung")]
    assert sim.reports[0][0] - start <= WINDOW + 0.5


def test_maintenance_has_a_cumulative_cap() -> None:
    """Windows asked again and again end when the budget does."""
    bounds = dataclasses.replace(BOUNDS, max_maintenance=60,
                                 maintenance_budget=600.0)
    sim = healthy_sim(bounds=bounds)
    hang(sim)
    for _ in range(40):
        sim.signal(sig.MaintenanceRequested(60, "again"))
        sim.run(50)
    assert sim.kinds() == [(LOST, "guest_hung")]
    assert sim.reports[0][0] - 1010 <= bounds.maintenance_budget + WINDOW
    refused = [a for a in sim.acks if not a.accepted]
    assert refused and "budget" in refused[0].reason


# -- 4. no verdict without evidence -------------------------------------------

def test_agent_absent_once_per_boot() -> None:
    sim = Sim(guest=Guest(heartbeat=False, qga=False), greet=False)
    sim.run(FAST.boot_grace + 600)
    assert sim.kinds() == [(LOST, "agent_absent")]
    assert sim.verdicts[0].severity is vd.Severity.WARNING
    sim.signal(sig.DomainEvent(sig.Lifecycle.REBOOTED))
    sim.run(FAST.boot_grace + 600)
    assert sim.kinds() == [(LOST, "agent_absent")] * 2


def test_statistics_are_sampled_before_the_grace_decides() -> None:
    """A guest frozen before its first answer is frozen, not hung."""
    sim = Sim(guest=Guest(heartbeat=False, qga=False, cpu_rate=0.0),
              greet=False)
    sim.signal(sig.AgentGreeted("boot-1"))
    sim.run(FAST.boot_grace)
    assert sim.kinds() == [(LOST, "vm_frozen")]


def test_an_agent_that_answered_once_is_hung_not_absent() -> None:
    sim = healthy_sim()
    hang(sim)
    sim.run(10)
    assert sim.kinds() == [(LOST, "guest_hung")]


# -- 5. episodes survive restarts ---------------------------------------------

def restarted(sim: Sim, **guest: object) -> Sim:
    """The monitor restarts (the guest keeps running)."""
    record = sim.monitor.record()
    return Sim(uptime=3600.0, greet=False, record=record,
               guest=Guest(**guest))  # type: ignore[arg-type]


def test_a_restart_does_not_announce_an_open_episode_again() -> None:
    sim = healthy_sim()
    hang(sim)
    sim.run(10)
    assert sim.kinds() == [(LOST, "guest_hung")]
    after = restarted(sim, heartbeat=False, qga=False)
    after.run(600)
    assert after.reports == [] and after.state() is S.FAILED
    heal(after)
    after.signal(sig.AgentGreeted("boot-1"))
    after.run(5)
    assert after.kinds() == [(RESTORED, "guest_hung")]
    assert after.verdicts[0].episode == sim.verdicts[0].episode


def test_a_guest_healed_while_down_is_restored() -> None:
    sim = healthy_sim()
    hang(sim)
    sim.run(10)
    after = restarted(sim)
    after.signal(sig.AgentGreeted("boot-1"))
    after.run(5)
    assert after.kinds() == [(RESTORED, "guest_hung")]
    assert after.verdicts[0].episode == sim.verdicts[0].episode


def test_episode_numbers_continue_after_a_restart() -> None:
    sim = healthy_sim()
    hang(sim)
    sim.run(10)
    heal(sim)
    sim.run(5)
    after = restarted(sim)
    after.signal(sig.AgentGreeted("boot-1"))
    after.run(10)
    hang(after)
    after.run(10)
    assert after.verdicts[-1].episode == sim.verdicts[-1].episode + 1


def test_a_boot_while_down_opens_a_new_episode() -> None:
    sim = healthy_sim()
    hang(sim)
    sim.run(10)
    record = dataclasses.replace(sim.monitor.record(), same_boot=False)
    after = Sim(uptime=3600.0, record=record,
                guest=Guest(heartbeat=False, qga=False))
    after.run(BOUNDS.rearm_grace + 5)
    assert after.kinds() == [(LOST, "guest_hung")]
    assert after.verdicts[0].episode == sim.verdicts[0].episode + 1


def test_a_held_back_episode_is_not_kept_as_reported() -> None:
    sim = healthy_sim()
    flap(sim, BOUNDS.verdict_burst)
    hang(sim)
    sim.run(6)
    record = sim.monitor.record()
    assert record.open_kind is None
    assert record == EpisodeRecord(record.number, heard=True)


def test_an_agent_failure_that_turns_into_a_hang_is_reported_again() -> None:
    """FAILED -> FAILED: the same episode, now a recovery trigger."""
    sim = healthy_sim()
    sim.guest.heartbeat = False
    sim.run(10)
    assert sim.kinds() == [(LOST, "agent_failure")]
    sim.guest.qga = False
    start = sim.now
    sim.run(10)
    assert sim.kinds() == [(LOST, "agent_failure"), (LOST, "guest_hung")]
    assert sim.reports[-1][0] - start <= WINDOW + FAST.timeout + 0.5
    assert sim.verdicts[0].episode == sim.verdicts[1].episode
    sim.run(600)
    assert len(sim.reports) == 2
    heal(sim)
    sim.run(5)
    assert sim.kinds()[-1] == (RESTORED, "guest_hung")


def test_a_short_qga_pause_does_not_turn_agent_failure_worse() -> None:
    sim = healthy_sim()
    sim.guest.heartbeat = False
    sim.run(10)
    sim.guest.qga = False
    sim.run(WINDOW - 1)
    sim.guest.qga = True
    sim.run(60)
    assert sim.kinds() == [(LOST, "agent_failure")]
