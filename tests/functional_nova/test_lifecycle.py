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

"""Every wrapped operation, driven through Nova's API as Nova calls it.

Nova's manager calls the driver with many arguments positionally
(``finish_revert_migration(context, instance, network_info, migration,
block_device_info, power_on)``); each test goes through the real API,
conductor and manager, so the wrapper is called exactly so. After each
operation: no false alarm, the guest XML has the heartbeat channel exactly
when it should, and a guest that hangs right after is still reported.
"""

from __future__ import annotations

import datetime
import time
import typing

import fixtures
from nova import context as nova_context
from nova import objects
from nova.tests import fixtures as nova_fixtures
from nova.virt import event as virtevent
from nova.virt.libvirt import driver as libvirt_driver

from nova_vm_heartbeat.monitor.machine import MonitorState
from tests.functional_nova import base
from tests.functional_nova.test_guest_xml import channels
from tests.functional_nova.test_guest_xml import HEARTBEAT
from tests.functional_nova.test_panic import panic_models

E = virtevent
Server = typing.Dict[str, typing.Any]
#: launched_at of a server booted long ago (beyond any boot grace).
LONG_AGO = datetime.timedelta(hours=1)


class LifecycleTestBase(base.HeartbeatTestBase):

    def setUp(self) -> None:
        super().setUp()
        # As Nova's own functional tests of resize and migration do: the
        # disk copy needs real disks and ssh between hosts. Our wrapper
        # still runs, and calls this.
        self.useFixture(fixtures.MockPatch(
            "nova.virt.libvirt.driver.LibvirtDriver"
            ".migrate_disk_and_power_off", return_value="{}"))

    def quiet(self, server: Server) -> None:
        """Long enough for a silent guest to be judged lost: it is not."""
        time.sleep(base.JUDGED_WITHIN)
        self.assertEqual([], self.lost_and_restored())

    def has_channel(self, server: Server) -> bool:
        return HEARTBEAT in channels(self.xml[server["id"]])

    def has_ours(self, server: Server) -> bool:
        """The heartbeat channel and the panic device, both or neither.

        From the XML the driver last created the guest with.
        """
        xml = self.xml[server["id"]]
        channel, panic = self.has_channel(server), panic_models(xml) != []
        self.assertEqual(channel, panic, "channel %s, panic device %s in %s"
                         % (channel, panic, xml))
        return channel

    def launched_long_ago(self, server: Server) -> None:
        """As Nova's record says of a server that has lived a while."""
        context = nova_context.get_admin_context()
        instance = objects.Instance.get_by_uuid(context, server["id"])
        instance.launched_at = instance.launched_at - LONG_AGO
        instance.save()

    def spy(self, method: str) -> typing.List[typing.Tuple[
            typing.Tuple[typing.Any, ...], typing.Dict[str, typing.Any]]]:
        """Record how Nova calls LibvirtDriver.<method> through ours."""
        calls: typing.List[typing.Tuple[typing.Tuple[typing.Any, ...],
                                        typing.Dict[str, typing.Any]]] = []
        original = getattr(libvirt_driver.LibvirtDriver, method)

        def recorded(driver: typing.Any, *args: typing.Any,
                     **kwargs: typing.Any) -> typing.Any:
            calls.append((args, kwargs))
            return original(driver, *args, **kwargs)

        self.useFixture(fixtures.MonkeyPatch(
            "nova.virt.libvirt.driver.LibvirtDriver." + method, recorded))
        return calls


class OneHostTest(LifecycleTestBase):

    def setUp(self) -> None:
        super().setUp()
        self.flags(allow_resize_to_same_host=True)
        self.start_compute()
        self.server = self.boot_monitored()

    def test_revert_of_a_stopped_resize_stays_stopped(self) -> None:
        calls = self.spy("finish_revert_migration")
        self._stop_server(self.server)
        self._resize_server(self.server, self.heartbeat_flavor(interval="2"))
        self.api.post_server_action(self.server["id"], {"revertResize": None})
        self._wait_for_state_change(self.server, "SHUTOFF")
        self._wait_for_migration_status(self.server, ["reverted"])
        # Nova passes power_on positionally (compute/manager.py).
        [(args, kwargs)] = calls
        self.assertEqual(6, len(args))
        self.assertIs(False, args[5])
        self.assertNotIn("power_on", kwargs)
        self.wait_state(self.server, MonitorState.INACTIVE)
        self.quiet(self.server)
        self.assertEqual(MonitorState.INACTIVE, self.state(self.server))
        self.assertEqual("SHUTOFF",
                         self.api.get_server(self.server["id"])["status"])

    def test_resize_and_revert(self) -> None:
        self._resize_server(self.server, self.heartbeat_flavor(interval="2"))
        self.assertTrue(self.has_ours(self.server))
        self._revert_resize(self.server)
        self.assertTrue(self.has_ours(self.server))
        self.quiet(self.server)
        self.hang_is_detected(self.server)

    def test_an_unconfirmed_resize_is_judged(self) -> None:
        # VERIFY_RESIZE may last for days: the guest runs, it is judged,
        # and the conductor's answers (vm_state "resized") do not stop it.
        self._resize_server(self.server, self.heartbeat_flavor(interval="2"))
        self.wait_state(self.server, MonitorState.HEALTHY)
        time.sleep(2 * base.CONF.heartbeat.conductor_interval + 1)
        self.assertEqual(MonitorState.HEALTHY, self.state(self.server))
        self.assertEqual([], self.lost_and_restored())
        self.hang_is_detected(self.server)

    def test_a_guest_that_never_boots_after_a_resize_is_reported(
            self) -> None:
        # Its agent never says hello again: once the new flavor's boot
        # grace has passed, the verdict comes, confirmed or not.
        guest = self.guests.guests[self.server["id"]]
        guest.reboot = lambda after=0.0: guest.freeze()
        self._resize_server(self.server,
                            self.heartbeat_flavor(boot_grace="3"))
        self.notifier.wait_for_versioned_notifications(
            base.LOST, timeout=base.WAIT)
        self.assertEqual([(base.LOST, self.server["id"])],
                         self.lost_and_restored())

    def test_resize_to_and_from_a_flavor_without_heartbeat(self) -> None:
        self._resize_server(self.server, str(self._create_flavor()))
        self.assertFalse(self.has_ours(self.server))
        self._confirm_resize(self.server)
        self.wait_state(self.server, None)  # no longer monitored
        self._resize_server(self.server, self.heartbeat_flavor())
        self.assertTrue(self.has_ours(self.server))
        self._confirm_resize(self.server)
        self.quiet(self.server)
        self.hang_is_detected(self.server)

    def test_hard_reboot_keeps_the_channel(self) -> None:
        self.launched_long_ago(self.server)
        self._reboot_server(self.server, hard=True)
        self.assertTrue(self.has_ours(self.server))
        self.quiet(self.server)
        self.hang_is_detected(self.server)

    def test_rescue_is_not_judged_even_after_libvirts_late_start(
            self) -> None:
        self.assertTrue(self.has_ours(self.server))
        self._rescue_server(self.server)
        self.assertFalse(self.has_ours(self.server))  # a rescue image
        # libvirt's STARTED for the rescue domain, after rescue() returned
        self.inject(self.server, E.EVENT_LIFECYCLE_STARTED)
        self.quiet(self.server)
        self.assertEqual(MonitorState.INACTIVE, self.state(self.server))
        self._unrescue_server(self.server)
        # Unrescue creates the XML libvirt gave back before the rescue.
        self.assertTrue(self.has_ours(self.server))
        self.inject(self.server, E.EVENT_LIFECYCLE_STARTED)
        self.quiet(self.server)
        self.hang_is_detected(self.server)

    def test_suspend_and_resume(self) -> None:
        self._suspend_server(self.server)
        self.quiet(self.server)
        self.assertEqual(MonitorState.INACTIVE, self.state(self.server))
        self._resume_server(self.server)
        self.quiet(self.server)
        self.hang_is_detected(self.server)

    def test_set_admin_password(self) -> None:
        calls = self.spy("set_admin_password")
        self.api.post_server_action(self.server["id"], {
            "changePassword": {"adminPass": "s3cret"}})
        self._wait_for_instance_action_event(
            self.server, "changePassword",
            "compute_set_admin_password", "success")
        [(args, kwargs)] = calls  # (instance, new_pass), positionally
        self.assertEqual(2, len(args))
        self.quiet(self.server)
        self.hang_is_detected(self.server)

    def test_rebuild_boots_with_a_full_grace(self) -> None:
        self.launched_long_ago(self.server)
        self._rebuild_server(self.server, self.image_id)
        self.assertTrue(self.has_ours(self.server))
        self.quiet(self.server)
        self.hang_is_detected(self.server)

    def test_unshelve_after_offload_boots_with_a_full_grace(self) -> None:
        # Nova's launched_at still holds the first boot while the driver
        # spawns: the boot grace counts from the spawn.
        self.launched_long_ago(self.server)
        self._shelve_server(self.server)
        self.wait_state(self.server, None)  # offloaded: not on this host
        self._unshelve_server(self.server)
        self.assertTrue(self.has_ours(self.server))
        self.quiet(self.server)
        self.hang_is_detected(self.server)


class TwoHostsTest(LifecycleTestBase):

    def setUp(self) -> None:
        super().setUp()
        self.start_compute("src")
        self.start_compute("dest")
        self.server = self.boot_monitored(host="src")

    def test_cold_migration_and_confirm(self) -> None:
        self._migrate_server(self.server, host="dest")
        self.assertTrue(self.has_ours(self.server))
        self._confirm_resize(self.server)
        self.wait_state(self.server, None, host="src")
        self.quiet(self.server)
        self.hang_is_detected(self.server, host="dest")

    def test_evacuate_leaves_it_stopped_then_it_boots(self) -> None:
        # From API microversion 2.95 an evacuated instance is spawned with
        # power_on=False: not started, not judged until it is started.
        self.launched_long_ago(self.server)
        self._stop_monitor(self.driver("src"))
        self.computes["src"].stop()
        self.api.put_service_force_down(
            self.api.get_services(host="src",
                                  binary="nova-compute")[0]["id"], True)
        self._evacuate_server(self.server, expected_host="dest")
        self.assertTrue(self.has_ours(self.server))
        self.wait_state(self.server, MonitorState.INACTIVE, host="dest")
        self.quiet(self.server)
        self.assertEqual(MonitorState.INACTIVE,
                         self.state(self.server, host="dest"))
        self._start_server(self.server)
        self.quiet(self.server)
        self.hang_is_detected(self.server, host="dest")


class VolumeBackedTest(LifecycleTestBase):
    """Quiesce, as Nova does it: a snapshot of a volume-backed server.

    The API asks the compute to quiesce (``quiesce_instance``, a call),
    snapshots the volumes in Cinder, then casts ``unquiesce_instance``,
    which waits for the volume snapshots and thaws. The boot volume's
    image metadata has ``hw_qemu_guest_agent`` (Nova's
    ``CinderFixture.IMAGE_BACKED_VOL_QUIESCE``), so the driver's
    ``quiesce`` runs: fakelibvirt's ``fsFreeze`` stops the guest's agent
    here, and its ``fsThaw`` lets it run again only after the guest was
    silent for longer than the flavor takes to lose a heartbeat.
    """

    def setUp(self) -> None:
        super().setUp()
        self.describe_volumes()
        self.start_compute()
        self.server = self.boot_from_volume()

    def describe_volumes(self) -> None:
        """Give CinderFixture's volumes the description Cinder gives.

        ``snapshot_volume_backed`` reads ``display_description``, which
        Nova's fixture leaves out (its own tests of it stop at a failed
        quiesce).
        """
        get = self.cinder.fake_get

        def described(api: typing.Any, context: typing.Any, volume_id: str,
                      microversion: typing.Optional[str] = None,
                      ) -> typing.Dict[str, typing.Any]:
            volume: typing.Dict[str, typing.Any] = get(
                context, volume_id, microversion)
            volume.setdefault("display_description", "")
            return volume

        self.useFixture(fixtures.MonkeyPatch(
            "nova.volume.cinder.API.get", described))

    def boot_from_volume(self) -> Server:
        request = self._build_server(flavor_id=self.heartbeat_flavor(),
                                     networks="none")
        request.pop("imageRef")
        request["block_device_mapping_v2"] = [{
            "boot_index": 0, "source_type": "volume",
            "destination_type": "volume",
            "uuid": nova_fixtures.CinderFixture.IMAGE_BACKED_VOL_QUIESCE}]
        server: Server = self._wait_for_state_change(
            self.api.post_server({"server": request}), "ACTIVE")
        self.assertTrue(self.has_ours(server))
        self.guests.start(server["id"], self.socket_of(server))
        self.wait_state(server, MonitorState.HEALTHY)
        return server

    def freeze_stops_the_guest(self) -> None:
        guest = self.guests.guests[self.server["id"]]

        def thaw(domain: typing.Any) -> None:
            time.sleep(base.JUDGED_WITHIN)
            guest.thaw()

        self.useFixture(fixtures.MonkeyPatch(
            "nova.tests.fixtures.libvirt.Domain.fsFreeze",
            lambda domain: guest.freeze()))
        self.useFixture(fixtures.MonkeyPatch(
            "nova.tests.fixtures.libvirt.Domain.fsThaw", thaw))

    def wait_for_calls(self, calls: typing.List[typing.Any]) -> None:
        deadline = time.monotonic() + base.WAIT
        while not calls:
            self.assertLess(time.monotonic(), deadline, "never called")
            time.sleep(0.1)

    def test_quiesce_for_a_volume_snapshot(self) -> None:
        quiesced, unquiesced = self.spy("quiesce"), self.spy("unquiesce")
        self.freeze_stops_the_guest()
        self._snapshot_server(self.server, "volume-snap")
        self.wait_for_calls(unquiesced)
        # compute/manager.py: driver.(un)quiesce(context, instance,
        # image_meta), positionally.
        for [(args, kwargs)] in (quiesced, unquiesced):
            self.assertEqual(({}, 3), (kwargs, len(args)))
            self.assertEqual(self.server["id"], args[1].uuid)
            self.assertTrue(args[2].properties.hw_qemu_guest_agent)
        self.assertEqual([], self.lost_and_restored())
        self.wait_state(self.server, MonitorState.HEALTHY)
        self.quiet(self.server)
        self.hang_is_detected(self.server)
