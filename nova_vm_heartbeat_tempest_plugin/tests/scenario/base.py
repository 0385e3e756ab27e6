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

"""What every scenario test does: boot the test guest, watch its verdicts.

The test guest takes its instructions from its kernel command line, the
image property ``os_command_line``: each test uploads a 1 MiB root image
of its own pointing at the configured kernel and ramdisk, with the
``hb.*`` words it needs (``hb.fault=hang@45``: hang 45 s after boot, once
in the life of the instance's disk). No test needs shell access to the
guest, and only the ones that say so need access to the compute host.

Verdicts are observed on the notification bus (``[heartbeat]
transport_url``), recoveries through Masakari's API (admin) and the
instance actions of the server.
"""

from __future__ import annotations

import io
import time
import typing

from tempest.common import waiters
from tempest import config
from tempest.lib.common import api_microversion_fixture
from tempest.lib.common.utils import data_utils
from tempest.lib.common.utils import test_utils
from tempest import test

from nova_vm_heartbeat_tempest_plugin.common import notifications

CONF = config.CONF
ROOT_DISK_BYTES = 1 << 20
#: networks='none' needs 2.37; extra spec validation happens from 2.86.
COMPUTE_MICROVERSION = "2.37"


class HeartbeatScenarioTest(test.BaseTestCase):  # type: ignore[misc]
    """Base class: clients, the guest image, servers, verdicts."""

    credentials = ["primary", "admin"]
    #: Set by the recovery tests: Masakari must be there.
    needs_masakari = False
    compute_microversion = COMPUTE_MICROVERSION

    @classmethod
    def skip_checks(cls) -> None:
        super().skip_checks()
        hb = CONF.heartbeat
        if not CONF.service_available.nova:
            raise cls.skipException("Nova is not available")
        if not (hb.kernel_id and hb.ramdisk_id and hb.flavor_ref):
            raise cls.skipException(
                "[heartbeat] kernel_id, ramdisk_id and flavor_ref name the "
                "test guest and a hw:heartbeat flavor; not set")
        if not hb.transport_url:
            raise cls.skipException(
                "[heartbeat] transport_url is not set: the verdicts cannot "
                "be observed")
        if cls.needs_masakari and not CONF.service_available.masakari:
            raise cls.skipException("Masakari is not available")

    @classmethod
    def setup_clients(cls) -> None:
        super().setup_clients()
        cls.servers_client = cls.os_primary.servers_client
        cls.images_client = cls.os_primary.image_client_v2
        cls.compute_images_client = cls.os_primary.compute_images_client
        cls.admin_flavors_client = cls.os_admin.flavors_client
        if CONF.service_available.masakari:
            cls.ha_client = cls.os_admin.instance_ha.InstanceHaClient()

    def setUp(self) -> None:
        super().setUp()
        self.useFixture(api_microversion_fixture.APIMicroversionFixture(
            compute_microversion=self.compute_microversion))
        hb = CONF.heartbeat
        self.verdicts = self.useFixture(notifications.VerdictListener(
            hb.transport_url, hb.notification_exchange,
            hb.notification_topic))

    # --- the guest ----------------------------------------------------------

    def create_guest_image(self, *words: str) -> str:
        """A root image of the test guest whose command line has ``words``."""
        hb = CONF.heartbeat
        image = self.images_client.create_image(
            name=data_utils.rand_name("nvh-guest"), container_format="bare",
            disk_format="raw", visibility="private",
            kernel_id=hb.kernel_id, ramdisk_id=hb.ramdisk_id,
            os_command_line=" ".join((hb.base_command_line,) + words),
            hw_qemu_guest_agent="yes")
        self.addCleanup(test_utils.call_and_ignore_notfound_exc,
                        self.images_client.delete_image, image["id"])
        self.images_client.store_image_file(
            image["id"], io.BytesIO(bytes(ROOT_DISK_BYTES)))
        waiters.wait_for_image_status(self.images_client, image["id"],
                                      "active")
        return str(image["id"])

    def boot(self, image_id: str, flavor_ref: typing.Optional[str] = None,
             ) -> typing.Dict[str, typing.Any]:
        """An ACTIVE server of the test guest, deleted at the end."""
        body = self.servers_client.create_server(
            name=data_utils.rand_name("nvh-server"), imageRef=image_id,
            flavorRef=flavor_ref or CONF.heartbeat.flavor_ref,
            networks="none")
        server: typing.Dict[str, typing.Any] = body["server"]
        self.addCleanup(self.delete_server, server["id"])
        self.wait_for_status(server["id"], "ACTIVE")
        return server

    def boot_guest(self, *words: str) -> typing.Dict[str, typing.Any]:
        return self.boot(self.create_guest_image(*words))

    def delete_server(self, server_id: str) -> None:
        test_utils.call_and_ignore_notfound_exc(
            self.servers_client.delete_server, server_id)
        waiters.wait_for_server_termination(self.servers_client, server_id,
                                            ignore_error=True)

    def wait_for_status(self, server_id: str, status: str) -> None:
        waiters.wait_for_server_status(self.servers_client, server_id, status)

    def fault(self, name: str) -> str:
        """The command line word that injects fault ``name`` once."""
        return "hb.fault=%s@%d" % (name, CONF.heartbeat.fault_delay)

    # --- what the cloud says ------------------------------------------------

    def actions(self, server_id: str) -> typing.List[str]:
        """The server's instance actions, oldest first."""
        body = self.servers_client.list_instance_actions(server_id)
        return [a["action"] for a in sorted(
            body["instanceActions"], key=lambda a: a["start_time"])]

    def masakari_notifications(self, instance_uuid: str
                               ) -> typing.List[typing.Dict[str, typing.Any]]:
        if not CONF.service_available.masakari:
            return []
        body = self.ha_client.list_notifications()
        return [n for n in body["notifications"]
                if (n.get("payload") or {}).get("instance_uuid")
                == instance_uuid]

    def wait_for_masakari(self, instance_uuid: str, status: str,
                          timeout: float) -> typing.Dict[str, typing.Any]:
        """The instance's one Masakari notification, once in ``status``."""
        deadline = time.monotonic() + timeout
        seen: typing.List[typing.Dict[str, typing.Any]] = []
        while time.monotonic() < deadline:
            seen = self.masakari_notifications(instance_uuid)
            if seen and seen[0]["status"] == status:
                return seen[0]
            if seen and seen[0]["status"] in ("error", "failed"):
                break
            time.sleep(3)
        raise AssertionError("no Masakari notification about %s reached "
                             "%s within %d s; seen: %s" % (
                                 instance_uuid, status, timeout,
                                 [(n["notification_uuid"], n["status"])
                                  for n in seen]))

    # --- the assertions -----------------------------------------------------

    def assert_recovered_once(self, server_id: str, trigger: str,
                              fault_classes: typing.Collection[str],
                              ) -> typing.Dict[str, float]:
        """One verdict, one recovery, the heartbeat back; nothing more.

        The verdict ``trigger``, one Masakari recovery (stop, start) that
        finishes, ACTIVE again, heartbeat restored; and nothing more after
        a quiet period. Returns the timings.
        """
        hb = CONF.heartbeat
        verdict = self.verdicts.wait_for(server_id, trigger,
                                         hb.verdict_timeout)
        self.assertIn(verdict.data.get("fault_class"), fault_classes)
        notification = self.wait_for_masakari(server_id, "finished",
                                              hb.recovery_timeout)
        finished_at = time.time()
        self.wait_for_status(server_id, "ACTIVE")
        restored = self.verdicts.wait_for(
            server_id, notifications.RESTORED, hb.recovery_timeout,
            after=verdict.received_at)
        actions = self.actions(server_id)
        self.assertEqual(["create", "stop", "start"], actions,
                         "instance actions of %s" % server_id)
        time.sleep(hb.quiet_period)
        self.assertEqual(
            [notification["notification_uuid"]],
            [n["notification_uuid"]
             for n in self.masakari_notifications(server_id)],
            "one Masakari notification, not more")
        self.assertEqual(1, len(self.verdicts.verdicts(server_id, trigger)),
                         "one %s, not more" % trigger)
        self.assertEqual(["create", "stop", "start"],
                         self.actions(server_id))
        return {"verdict": verdict.received_at, "finished": finished_at,
                "restored": restored.received_at}

    def assert_no_alarm(self, server_id: str) -> None:
        """No verdict at all, and no Masakari notification."""
        self.assertEqual([], [(v.event_type, dict(v.data)) for v in
                              self.verdicts.verdicts(server_id)])
        self.assertEqual([], self.masakari_notifications(server_id))
