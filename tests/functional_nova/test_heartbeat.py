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

"""A real guest agent on the real socket: lost and restored, as sampled."""

from __future__ import annotations

import signal
import time
import typing

from nova_vm_heartbeat.monitor.machine import MonitorState
from nova_vm_heartbeat.monitor import verdicts as vd
from tests.functional_nova import base
from tests import notification_samples as samples


Json = typing.Dict[str, typing.Any]


class HeartbeatTest(base.HeartbeatTestBase):

    def setUp(self) -> None:
        super().setUp()
        self.start_compute()

    def _expected(self, event_type: str, server: Json, missed: int,
                  **fields: typing.Any) -> Json:
        """The sample, with what differs from run to run replaced."""
        return samples.expected(
            samples.name_of(event_type), publisher_id="nova-compute:compute1",
            instance_uuid=server["id"], display_name=server["name"],
            host="compute1", verdict_id=samples.ANY,
            generated_at=samples.ANY, silent_for=samples.ANY,
            missed_heartbeats=missed, **fields)

    def _missed(self, notification: Json) -> int:
        """Misses when the loss was decided: 1 or 2 (threshold 2).

        The loss is decided after two intervals of silence; the second
        challenge may still be in flight then.
        """
        missed = notification["payload"]["nova_object.data"][
            "missed_heartbeats"]
        self.assertIn(missed, (1, 2))
        return int(missed)

    def test_silence_is_lost_once_and_answers_restore(self) -> None:
        server = self.boot_monitored()
        guest = self.guests.guests[server["id"]]
        self.assertEqual([], self.heartbeat_notifications())

        guest.agent.signal(signal.SIGSTOP)
        [lost] = self.notifier.wait_for_versioned_notifications(
            base.LOST, timeout=base.WAIT)
        # Nova's fake libvirt gives no CPU time: the reason says so
        # rather than claim that the vCPUs run.
        self.assertEqual(
            self._expected(base.LOST, server, self._missed(lost),
                           reason=vd.HUNG_WITHOUT_CPU_TIME), lost)
        time.sleep(base.JUDGED_WITHIN)  # an episode is reported once
        self.assertEqual([lost], self.heartbeat_notifications())

        guest.agent.signal(signal.SIGCONT)
        [restored] = self.notifier.wait_for_versioned_notifications(
            base.RESTORED, timeout=base.WAIT)
        self.assertEqual(self._expected(base.RESTORED, server, 0), restored)
        self.wait_state(server, MonitorState.HEALTHY)
        self.assertEqual([lost, restored], self.heartbeat_notifications())

    def test_a_failed_component_and_a_recovery_request_as_sampled(
            self) -> None:
        """The other two event types, from the real agent's command line.

        The samples were made for an instance judged over both channels,
        in a later episode; here the instance has no QGA and starts at
        episode 1, so those two fields are replaced too.
        """
        server = self.boot_monitored()
        agent = self.guests.guests[server["id"]].agent
        agent.wait_for_socket()
        self._cli(agent, "notify", "--component", "database", "--status",
                  "failed", "--reason", "replication lag above 30 s",
                  "--progress", "1742", "--ttl", "600")
        [failed] = self.notifier.wait_for_versioned_notifications(
            "instance.health_check_failed", timeout=base.WAIT)
        self.assertEqual(self._expected(
            "instance.health_check_failed", server, 0, episode=1,
            channels=["heartbeat"]), failed)

        self._cli(agent, "notify", "--component", "database", "--status",
                  "ok")
        self.notifier.wait_for_versioned_notifications(
            base.RESTORED, timeout=base.WAIT)
        self._cli(agent, "request-recovery", "--action", "reboot",
                  "--reason", "kernel memory leak detected")
        [request] = self.notifier.wait_for_versioned_notifications(
            "instance.recovery_requested", timeout=base.WAIT)
        self.assertEqual(self._expected(
            "instance.recovery_requested", server, 0, episode=2,
            channels=["heartbeat"]), request)

    def _cli(self, agent: typing.Any, *args: str) -> None:
        result = agent.cli(*args)
        self.assertEqual(0, result.returncode, result.stderr)
