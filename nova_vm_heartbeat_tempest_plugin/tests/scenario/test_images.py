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

"""Images that lack our agent: a documented outcome, never a loop.

On a hw:heartbeat flavor, an image with the QEMU guest agent but not our
agent is reported once as ``heartbeat_lost`` / ``agent_failure`` when the
boot grace ends (the guest runs; only our agent is missing; ``[heartbeat]
verdict_timeout`` must exceed the flavor's boot grace), which the
Masakari bridge does not act on by default. The test fails on any
Masakari notification, and on more than one verdict.
"""

from __future__ import annotations

import time

from tempest import config
from tempest.lib import decorators

from nova_vm_heartbeat_tempest_plugin.common import notifications
from nova_vm_heartbeat_tempest_plugin.tests.scenario import base

CONF = config.CONF


class ImageWithoutAgentTest(base.HeartbeatScenarioTest):

    @decorators.idempotent_id("ccf8effb-1e8c-4d11-9fd2-3d8df169b5d3")
    @decorators.attr(type="slow")
    def test_qemu_ga_without_our_agent(self) -> None:
        hb = CONF.heartbeat
        sid = self.boot_guest("hb.agent=0")["id"]
        verdict = self.verdicts.wait_for(sid, notifications.LOST,
                                         hb.verdict_timeout)
        self.assertEqual("agent_failure", verdict.data.get("fault_class"))
        time.sleep(hb.quiet_period)
        self.assertEqual([notifications.LOST],
                         [v.event_type for v in self.verdicts.verdicts(sid)])
        self.assertEqual([], self.masakari_notifications(sid))
        self.assertEqual(["create"], self.actions(sid))
