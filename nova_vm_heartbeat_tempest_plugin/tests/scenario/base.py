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
import json
import shlex
import subprocess
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

    def create_guest_image(self, *words: str,
                           **properties: str) -> str:
        """A root image of the test guest whose command line has ``words``.

        ``properties`` are more image properties, over the default
        ``hw_qemu_guest_agent=yes``.
        """
        hb = CONF.heartbeat
        props = {"hw_qemu_guest_agent": "yes"}
        props.update(properties)
        image = self.images_client.create_image(
            name=data_utils.rand_name("nvh-guest"), container_format="bare",
            disk_format="raw", visibility="private",
            kernel_id=hb.kernel_id, ramdisk_id=hb.ramdisk_id,
            os_command_line=" ".join((hb.base_command_line,) + words),
            **props)
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

    def boot_guest(self, *words: str, flavor_ref: typing.Optional[str] = None
                   ) -> typing.Dict[str, typing.Any]:
        return self.boot(self.create_guest_image(*words), flavor_ref)

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

    # --- the compute host (only with [heartbeat] host_access) ---------------

    def require_host_access(self) -> None:
        """Skip, and say why, unless the tests may act on the host."""
        hb = CONF.heartbeat
        if not (hb.host_access and hb.host_command):
            raise self.skipException(
                "needs access to the compute host: set [heartbeat] "
                "host_access = true and host_command")

    def host(self, *args: str) -> str:
        """Run ``[heartbeat] host_command ARGS``; its standard output."""
        self.require_host_access()
        hb = CONF.heartbeat
        command = shlex.split(hb.host_command) + list(args)
        done = subprocess.run(command, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True,
                              timeout=hb.host_command_timeout, check=False)
        if done.returncode != 0:
            raise AssertionError("%s: exit status %d: %s" % (
                " ".join(command), done.returncode, done.stderr[-2000:]))
        return done.stdout

    def monitor_state(self, server_id: str) -> typing.Optional[str]:
        """How the host's monitor judges the server now (host access)."""
        answer = json.loads(self.host("status"))
        for instance in answer.get("instances", []):
            if instance.get("uuid") == server_id:
                return str(instance.get("state"))
        return None

    def wait_for_monitor(self, server_id: str,
                         states: typing.Collection[typing.Optional[str]],
                         timeout: float) -> typing.Optional[str]:
        """Poll the monitor until it judges the server in ``states``."""
        deadline = time.monotonic() + timeout
        state = None
        while time.monotonic() < deadline:
            state = self.monitor_state(server_id)
            if state in states:
                return state
            time.sleep(2)
        raise AssertionError("the monitor judged %s %r, not one of %s, "
                             "for %d s" % (server_id, state, sorted(
                                 map(str, states)), timeout))

    def wait_until_healthy(self, server_id: str) -> None:
        """The guest's heartbeat answered again, after an operation.

        With host access: the monitor says ``healthy`` (at most the boot
        grace plus a margin). Without: a fixed window of a few heartbeat
        periods, which cannot tell a guest still in its boot grace.
        """
        hb = CONF.heartbeat
        if hb.host_access and hb.host_command:
            self.wait_for_monitor(server_id, ("healthy",),
                                  hb.verdict_timeout)
        else:
            time.sleep(hb.interval * (hb.failure_threshold + 2))

    def wait_until_not_judged(self, server_id: str) -> None:
        """A server that is not ACTIVE, or not monitored, is left alone.

        With host access: until the monitor no longer judges it
        (inactive, suspended, or not listed) or hears it (healthy: a
        resized guest awaiting confirmation still runs). Then a window of
        a few heartbeat periods for a false alarm to show.
        """
        hb = CONF.heartbeat
        if hb.host_access and hb.host_command:
            self.wait_for_monitor(server_id, ("inactive", "suspended", None,
                                              "healthy"),
                                  hb.verdict_timeout)
        time.sleep(hb.interval * (hb.failure_threshold + 1))

    # --- what the cloud says ------------------------------------------------

    def actions(self, server_id: str) -> typing.List[str]:
        """The server's instance actions, oldest first."""
        # Read without tempest's response schema: an action Nova starts
        # itself (the stop of a guest that crashed and was destroyed,
        # from the power state sync) has no user_id, which the schema
        # refuses.
        resp, text = self.servers_client.get(
            "servers/%s/os-instance-actions" % server_id)
        self.servers_client.expected_success(200, resp.status)
        body = json.loads(text)
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
                              verdict: typing.Optional[
                                  notifications.Verdict] = None,
                              ) -> typing.Dict[str, float]:
        """One verdict, one recovery, the heartbeat back; nothing more.

        The verdict ``trigger``, one Masakari recovery (stop, start) that
        finishes, ACTIVE again, the heartbeat healthy again; and nothing
        more after a quiet period. After an episode (``heartbeat_lost``)
        healthy again means ``heartbeat_restored``; a recovery request is
        not an episode, so nothing follows it, and healthy again means no
        ``heartbeat_lost`` over the quiet period after the restart (and,
        with host access, the monitor says ``healthy``). Returns the
        timings.
        """
        hb = CONF.heartbeat
        if verdict is None:
            verdict = self.verdicts.wait_for(server_id, trigger,
                                             hb.verdict_timeout)
        self.assertIn(verdict.data.get("fault_class"), fault_classes)
        notification = self.wait_for_masakari(server_id, "finished",
                                              hb.recovery_timeout)
        finished_at = time.time()
        self.wait_for_status(server_id, "ACTIVE")
        if trigger == notifications.RECOVERY_REQUESTED:
            if hb.host_access and hb.host_command:
                self.wait_for_monitor(server_id, ("healthy",),
                                      hb.verdict_timeout)
            restored_at = time.time()
        else:
            restored_at = self.verdicts.wait_for(
                server_id, notifications.RESTORED, hb.recovery_timeout,
                after=verdict.received_at).received_at
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
        if trigger == notifications.RECOVERY_REQUESTED:
            self.assertEqual(
                [], self.verdicts.verdicts(server_id, notifications.LOST),
                "the heartbeat is healthy after the recovery")
        self.assertEqual(["create", "stop", "start"],
                         self.actions(server_id))
        return {"verdict": verdict.received_at, "finished": finished_at,
                "restored": restored_at}

    def assert_no_alarm(self, server_id: str) -> None:
        """No verdict at all, and no Masakari notification."""
        self.assertEqual([], [(v.event_type, dict(v.data)) for v in
                              self.verdicts.verdicts(server_id)])
        self.assertEqual([], self.masakari_notifications(server_id))
