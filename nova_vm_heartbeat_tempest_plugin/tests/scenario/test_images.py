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
boot grace ends (the guest runs; only our agent is missing); an image
with neither agent once as ``heartbeat_lost`` / ``agent_absent``
(warning: nothing ever answered, which says nothing of the guest's
health). The Masakari bridge acts on neither by default
(doc/source/admin/fault-classes.rst). ``[heartbeat] verdict_timeout``
must exceed the flavor's boot grace (``flavor_ref_short_grace`` keeps
it short). The tests fail on any Masakari notification, any instance
action but create, and on more than one verdict over a quiet period.
"""

from __future__ import annotations

import time
import typing

from tempest import config
from tempest.lib import decorators

from nova_vm_heartbeat_tempest_plugin.common import notifications
from nova_vm_heartbeat_tempest_plugin.tests.scenario import base

CONF = config.CONF


class ImageWithoutAgentTest(base.HeartbeatScenarioTest):

    def assert_one_warning(self, sid: str, fault_class: str) -> None:
        hb = CONF.heartbeat
        verdict = self.verdicts.wait_for(sid, notifications.LOST,
                                         hb.verdict_timeout)
        self.assertEqual(fault_class, verdict.data.get("fault_class"),
                         dict(verdict.data))
        self.assertEqual("warning", verdict.data.get("severity"))
        # Never a recovery loop: watch for longer than a recovery takes.
        time.sleep(hb.quiet_period)
        self.assertEqual([notifications.LOST],
                         [v.event_type for v in self.verdicts.verdicts(sid)])
        self.assertEqual([], self.masakari_notifications(sid))
        self.assertEqual(["create"], self.actions(sid))
        self.wait_for_status(sid, "ACTIVE")

    def flavor(self) -> typing.Optional[str]:
        hb = CONF.heartbeat
        return str(hb.flavor_ref_short_grace or hb.flavor_ref)

    @decorators.idempotent_id("ccf8effb-1e8c-4d11-9fd2-3d8df169b5d3")
    @decorators.attr(type="slow")
    def test_qemu_ga_without_our_agent(self) -> None:
        sid = self.boot_guest("hb.agent=0", flavor_ref=self.flavor())["id"]
        self.assert_one_warning(sid, "agent_failure")

    @decorators.idempotent_id("5b0c3f0e-2f43-4a4f-8d0e-7f6f3c1f9d27")
    @decorators.attr(type="slow")
    def test_neither_agent(self) -> None:
        # No QEMU guest agent channel in the image, no agent started.
        image = self.create_guest_image("hb.agent=0", "hb.qga=0",
                                        hw_qemu_guest_agent="no")
        sid = self.boot(image, self.flavor())["id"]
        self.assert_one_warning(sid, "agent_absent")
