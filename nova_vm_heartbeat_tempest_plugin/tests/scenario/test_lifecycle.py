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

"""No false alarm across Nova's operations on a healthy guest.

After each operation the test waits a few heartbeat periods; at the end
it watches for ``[heartbeat] quiet_period`` seconds more. A single
verdict of any kind, or a single Masakari notification, about the
instance fails the test.
"""

from __future__ import annotations

import time

from tempest.common import waiters
from tempest import config
from tempest.lib.common.utils import data_utils
from tempest.lib import decorators

from nova_vm_heartbeat_tempest_plugin.tests.scenario import base

CONF = config.CONF


class LifecycleNoAlarmTest(base.HeartbeatScenarioTest):

    def settle(self) -> None:
        hb = CONF.heartbeat
        time.sleep(hb.interval * (hb.failure_threshold + 2))

    def do(self, server_id: str, status: str, method: str,
           **kwargs: object) -> None:
        getattr(self.servers_client, method)(server_id, **kwargs)
        self.wait_for_status(server_id, status)
        self.settle()

    def finish(self, server_id: str) -> None:
        time.sleep(CONF.heartbeat.quiet_period)
        self.assert_no_alarm(server_id)

    @decorators.idempotent_id("9cac84b6-2f96-416c-ad5b-2b6a1eef6a26")
    @decorators.attr(type="slow")
    def test_power_operations(self) -> None:
        sid = self.boot_guest()["id"]
        self.settle()
        self.do(sid, "ACTIVE", "reboot_server", type="SOFT")
        self.do(sid, "ACTIVE", "reboot_server", type="HARD")
        self.do(sid, "SHUTOFF", "stop_server")
        self.do(sid, "ACTIVE", "start_server")
        self.do(sid, "PAUSED", "pause_server")
        self.do(sid, "ACTIVE", "unpause_server")
        self.do(sid, "SUSPENDED", "suspend_server")
        self.do(sid, "ACTIVE", "resume_server")
        self.finish(sid)

    @decorators.idempotent_id("bd7923a4-af70-4354-9142-936374b95b22")
    @decorators.attr(type="slow")
    def test_rescue_snapshot_rebuild(self) -> None:
        image = self.create_guest_image()
        sid = self.boot(image)["id"]
        self.settle()
        self.do(sid, "RESCUE", "rescue_server", rescue_image_ref=image)
        self.do(sid, "ACTIVE", "unrescue_server")
        snapshot = self.compute_images_client.create_image(
            sid, name=data_utils.rand_name("nvh-snapshot"))
        snapshot_id = snapshot.response["location"].rsplit("/", 1)[-1]
        self.addCleanup(self.images_client.delete_image, snapshot_id)
        waiters.wait_for_image_status(self.images_client, snapshot_id,
                                      "active")
        self.wait_for_status(sid, "ACTIVE")
        self.settle()
        self.do(sid, "ACTIVE", "rebuild_server", image_ref=image)
        self.finish(sid)

    @decorators.idempotent_id("e9b88c95-8eef-4650-bb78-26242d2f5e33")
    @decorators.attr(type="slow")
    def test_resize_shelve_delete(self) -> None:
        hb = CONF.heartbeat
        sid = self.boot_guest()["id"]
        self.settle()
        for flavor, end in ((hb.flavor_ref_alt, "confirm"),
                            (hb.flavor_ref_plain, "revert"),
                            (hb.flavor_ref_plain, "confirm"),
                            (hb.flavor_ref, "confirm")):
            self.do(sid, "VERIFY_RESIZE", "resize_server",
                    flavor_ref=flavor)
            self.do(sid, "ACTIVE", "%s_resize_server" % end)
        self.do(sid, "SHELVED_OFFLOADED", "shelve_server")
        self.do(sid, "ACTIVE", "unshelve_server")
        time.sleep(hb.quiet_period)
        self.assert_no_alarm(sid)
        self.delete_server(sid)
        self.finish(sid)
