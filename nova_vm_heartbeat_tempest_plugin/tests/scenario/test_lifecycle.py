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

After each operation the test waits for a condition, not a fixed time:
with host access (``[heartbeat] host_access``) until the host's monitor
judges the guest ``healthy`` again (its heartbeat answered after the
operation), or, for a server left stopped, paused or suspended, until the
monitor no longer judges it; without host access it can only wait a few
heartbeat periods. At the end it watches for ``[heartbeat]
quiet_period`` seconds more. A single verdict of any kind, or a single
Masakari notification, about the instance fails the test.
"""

from __future__ import annotations

import time

from tempest.common import waiters
from tempest import config
from tempest.lib.common.utils import data_utils
from tempest.lib import decorators

from nova_vm_heartbeat_tempest_plugin.common import notifications
from nova_vm_heartbeat_tempest_plugin.tests.scenario import base

CONF = config.CONF
HEARTBEAT_CHANNEL = "org.openstack.heartbeat.0"


class LifecycleNoAlarmTest(base.HeartbeatScenarioTest):

    def settle(self, server_id: str, status: str = "ACTIVE") -> None:
        if status == "ACTIVE":
            self.wait_until_healthy(server_id)
        else:
            self.wait_until_not_judged(server_id)

    def do(self, server_id: str, status: str, method: str,
           **kwargs: object) -> None:
        getattr(self.servers_client, method)(server_id, **kwargs)
        self.wait_for_status(server_id, status)
        self.settle(server_id, status)

    def finish(self, server_id: str) -> None:
        time.sleep(CONF.heartbeat.quiet_period)
        self.assert_no_alarm(server_id)

    def snapshot(self, server_id: str) -> str:
        snapshot = self.compute_images_client.create_image(
            server_id, name=data_utils.rand_name("nvh-snapshot"))
        snapshot_id = str(snapshot.response["location"].rsplit("/", 1)[-1])
        self.addCleanup(self.images_client.delete_image, snapshot_id)
        waiters.wait_for_image_status(self.images_client, snapshot_id,
                                      "active")
        self.wait_for_status(server_id, "ACTIVE")
        return snapshot_id

    @decorators.idempotent_id("9cac84b6-2f96-416c-ad5b-2b6a1eef6a26")
    @decorators.attr(type="slow")
    def test_power_operations(self) -> None:
        sid = self.boot_guest()["id"]
        self.settle(sid)
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
        self.settle(sid)
        self.do(sid, "RESCUE", "rescue_server", rescue_image_ref=image)
        self.do(sid, "ACTIVE", "unrescue_server")
        self.snapshot(sid)
        self.settle(sid)
        self.do(sid, "ACTIVE", "rebuild_server", image_ref=image)
        self.finish(sid)

    @decorators.idempotent_id("3f1d2c4b-8a7e-4e59-b6d0-2c9e5a71f0b4")
    @decorators.attr(type="slow")
    def test_unrescue_restores_the_channel(self) -> None:
        # Host access: the live domain XML after rescue and unrescue has
        # our heartbeat channel again, and the heartbeat resumes.
        self.require_host_access()
        image = self.create_guest_image()
        sid = self.boot(image)["id"]
        self.settle(sid)
        self.assertIn(HEARTBEAT_CHANNEL, self.host("dumpxml", sid))
        self.do(sid, "RESCUE", "rescue_server", rescue_image_ref=image)
        self.do(sid, "ACTIVE", "unrescue_server")
        self.assertIn(HEARTBEAT_CHANNEL, self.host("dumpxml", sid),
                      "the heartbeat channel after unrescue")
        self.wait_for_monitor(sid, ("healthy",), CONF.heartbeat.
                              verdict_timeout)
        self.finish(sid)

    @decorators.idempotent_id("a2b7f0e1-5c3d-4b8a-9e6f-0d1c2b3a4f5e")
    @decorators.attr(type="slow")
    def test_quiesced_live_snapshot_then_hang(self) -> None:
        # An image with qemu-ga whose snapshots must be quiesced
        # (os_require_quiesce). The snapshot of the running guest is
        # live (nova-compute's log, host access), quiesced (Nova's live
        # snapshot logs "Skipping quiescing instance" and goes on when
        # qemu-ga cannot freeze the file systems: no such line), and
        # raises no alarm; a hang right after is still detected.
        hb = CONF.heartbeat
        delay = hb.fault_delay + 120
        image = self.create_guest_image("hb.fault=hang@%d" % delay,
                                        os_require_quiesce="yes")
        sid = self.boot(image)["id"]
        self.settle(sid)
        settled = time.time()
        self.snapshot(sid)
        snapshot_done = time.time()
        self.assertEqual([], [v.event_type for v in
                              self.verdicts.verdicts(sid)
                              if v.received_at >= settled],
                         "no verdict across the snapshot (the hang is "
                         "due %d s after boot)" % delay)
        self.assertEqual([], self.masakari_notifications(sid))
        if hb.host_access and hb.host_command:
            log = self.host("compute-log")
            lines = [line for line in log.splitlines() if sid in line
                     and "snapshot process" in line]
            self.assertTrue(lines, "no snapshot line about %s in "
                            "nova-compute's log" % sid)
            self.assertIn("Beginning live snapshot process", lines[-1])
            # Nova's live snapshot logs, and goes on, when it cannot
            # freeze the guest even with os_require_quiesce.
            skipped = [line for line in log.splitlines() if sid in line
                       and ("Skipping quiescing" in line
                            or "Quiescing instance not available" in line
                            or "Quiescing instance failed" in line)]
            self.assertEqual([], skipped, "the snapshot was not quiesced")
        verdict = self.verdicts.wait_for(sid, notifications.LOST,
                                         hb.verdict_timeout,
                                         after=snapshot_done)
        self.assertEqual("guest_hung", verdict.data.get("fault_class"))
        if CONF.service_available.masakari:
            # Let the recovery finish before the server is deleted.
            self.wait_for_masakari(sid, "finished", hb.recovery_timeout)

    @decorators.idempotent_id("e9b88c95-8eef-4650-bb78-26242d2f5e33")
    @decorators.attr(type="slow")
    def test_resize_shelve_delete(self) -> None:
        hb = CONF.heartbeat
        sid = self.boot_guest()["id"]
        self.settle(sid)
        for flavor, end in ((hb.flavor_ref_alt, "confirm"),
                            (hb.flavor_ref_plain, "revert"),
                            (hb.flavor_ref_plain, "confirm"),
                            (hb.flavor_ref, "confirm")):
            self.servers_client.resize_server(sid, flavor_ref=flavor)
            self.wait_for_status(sid, "VERIFY_RESIZE")
            self.settle(sid, "ACTIVE" if flavor != hb.flavor_ref_plain
                        else "VERIFY_RESIZE")
            getattr(self.servers_client, "%s_resize_server" % end)(sid)
            self.wait_for_status(sid, "ACTIVE")
            plain_now = (flavor == hb.flavor_ref_plain) == (end == "confirm")
            self.settle(sid, "PLAIN" if plain_now else "ACTIVE")
        self.do(sid, "SHELVED_OFFLOADED", "shelve_server")
        self.do(sid, "ACTIVE", "unshelve_server")
        time.sleep(hb.quiet_period)
        self.assert_no_alarm(sid)
        self.delete_server(sid)
        self.finish(sid)
