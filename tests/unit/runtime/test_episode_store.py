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

"""The durable episode state: a restart forgets no episode."""

from __future__ import annotations

import json
import os
import typing

from nova_vm_heartbeat.monitor.episodes import EpisodeRecord
from nova_vm_heartbeat.monitor import signals as sig
from nova_vm_heartbeat.monitor import verdicts as vd
from nova_vm_heartbeat.runtime.episode_store import EpisodeStore
from nova_vm_heartbeat.runtime.fleet import Fleet
from tests.unit.runtime import fakes
from tests.unit.runtime.fakes import info

LOST = "instance.heartbeat_lost"
RESTORED = "instance.heartbeat_restored"
OPEN = EpisodeRecord(3, vd.VerdictKind.HEARTBEAT_LOST,
                     vd.FaultClass.GUEST_HUNG, 3, True, True)


class Host:
    """A monitor run on a fake clock, with its state file."""

    def __init__(self, path: str, wall: float = 1e9) -> None:
        self.clock = fakes.Clock()
        self.effects = fakes.Effects()
        self.store = EpisodeStore(path, wallclock=lambda: wall)
        self.store.start()
        self.fleet = Fleet(fakes.OPTIONS, self.effects, self.clock,
                           store=self.store)

    def apply(self, *infos: typing.Any) -> None:
        self.fleet.apply(infos, self.clock.now, self.clock.now)

    def run(self, seconds: float) -> None:
        end = self.clock.now + seconds
        while self.fleet.next_deadline() <= end:
            self.clock.now = max(self.clock.now, self.fleet.next_deadline())
            self.fleet.run_due(self.clock.now)
        self.clock.now = end

    def stop(self) -> None:
        self.fleet.close()
        self.store.close()

    def reports(self) -> typing.List[typing.Tuple[str, int, str]]:
        return [(v.kind.value, v.episode, v.verdict_id)
                for _, v, _ in self.effects.reports]


def hung_then_restarted(tmp_path: typing.Any) -> typing.Tuple[Host, Host]:
    path = str(tmp_path / "episodes.json")
    first = Host(path)
    first.apply(info("a", uptime=10.0))
    first.fleet.deliver("a", sig.AgentGreeted("boot-1"))
    first.run(5.0)
    first.effects.channels["a"].answering = False
    first.run(10.0)
    first.stop()
    second = Host(path, wall=1e9 + 60)
    second.apply(info("a", uptime=3600.0))
    return first, second


def test_a_restart_does_not_announce_an_open_episode_again(
        tmp_path: typing.Any) -> None:
    first, second = hung_then_restarted(tmp_path)
    assert [r[0] for r in first.reports()] == [LOST]
    second.effects.channels["a"].answering = False
    second.run(600.0)
    assert second.reports() == []
    second.stop()


def test_healed_while_down_is_restored_with_the_same_episode(
        tmp_path: typing.Any) -> None:
    first, second = hung_then_restarted(tmp_path)
    second.fleet.deliver("a", sig.AgentGreeted("boot-1"))
    second.run(5.0)
    (kind, episode, verdict_id), = second.reports()
    assert (kind, episode) == (RESTORED, first.reports()[0][1])
    assert verdict_id != first.reports()[0][2]
    second.stop()


def test_verdict_ids_are_stable_and_never_reused(tmp_path: typing.Any) -> None:
    path = str(tmp_path / "episodes.json")
    verdict = vd.Verdict(vd.VerdictKind.HEARTBEAT_LOST,
                         vd.FaultClass.GUEST_HUNG, vd.Severity.CRITICAL, 3,
                         "")
    store = EpisodeStore(path)
    store.start()
    store.put("a", OPEN)
    store.close()
    again = EpisodeStore(path)
    assert again.verdict_id("a", verdict) == store.verdict_id("a", verdict)
    os.remove(path)
    assert EpisodeStore(path).verdict_id("a", verdict) \
        != store.verdict_id("a", verdict)


def test_a_boot_while_down_is_told_apart(tmp_path: typing.Any) -> None:
    path = str(tmp_path / "episodes.json")
    store = EpisodeStore(path, wallclock=lambda: 1000.0)
    store.start()
    store.put("a", OPEN)
    store.put("b", OPEN)
    store.close()
    later = EpisodeStore(path, wallclock=lambda: 1100.0)
    assert later.restore("a", 200.0) == OPEN  # up since before the write
    booted = later.restore("b", 50.0)  # started after it
    assert booted is not None and not booted.same_boot and not booted.heard


def test_a_damaged_file_is_a_fresh_start(tmp_path: typing.Any) -> None:
    path = tmp_path / "episodes.json"
    path.write_text("{not json")
    store = EpisodeStore(str(path))
    assert store.restore("a", None) is None
    store.start()
    store.put("a", OPEN)
    store.close()
    assert json.loads(path.read_text())["instances"]["a"]["number"] == 3


def test_removed_instances_are_forgotten_closed_ones_kept(
        tmp_path: typing.Any) -> None:
    path = str(tmp_path / "episodes.json")
    host = Host(path)
    host.apply(info("a"), info("b"))
    host.apply(info("a"))
    host.stop()
    assert set(json.loads(open(path).read())["instances"]) == {"a"}


def test_a_file_that_cannot_be_written_is_logged_once(
        tmp_path: typing.Any, caplog: typing.Any) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    store = EpisodeStore(str(blocker / "episodes.json"))
    for number in range(3):
        store._write({"a": number})
    assert store.failures == 3 and store.writes == 0
    assert len([r for r in caplog.records if r.levelname == "ERROR"
                and "Cannot write" in r.getMessage()]) == 1
