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

"""Nova's operations make the guest go quiet, and no verdict comes of it.

In each test the guest answers, then Nova does something that silences a
real guest (the fake hypervisor stops the agent process, see
:mod:`.qemu`) for longer than the test flavor takes to lose a heartbeat.
libvirt's lifecycle events are injected as libvirt would send them. No
heartbeat notification may come out, and the instance must be judged
healthy again afterwards.
"""

from __future__ import annotations

import time
import typing

import fixtures
from nova.tests.functional.libvirt import base as libvirt_base
from nova.virt import event as virtevent
from nova.virt.libvirt import driver as libvirt_driver

from nova_vm_heartbeat.monitor.machine import MonitorState
from tests.functional_nova import base

E = virtevent


class OperationsTest(base.HeartbeatTestBase):

    def setUp(self) -> None:
        super().setUp()
        self.start_compute()
        self.server = self.boot_monitored()

    def quiet(self) -> None:
        """The guest stays silent long enough to be judged lost."""
        time.sleep(base.JUDGED_WITHIN)
        self.assertNotEqual(MonitorState.FAILED, self.state(self.server))
        self.assertEqual([], self.heartbeat_notifications())

    def assert_healthy_and_silent(self) -> None:
        self.wait_state(self.server, MonitorState.HEALTHY)
        self.assertEqual([], self.heartbeat_notifications())

    def action(self, body: typing.Dict[str, typing.Any], status: str) -> None:
        self.api.post_server_action(self.server["id"], body)
        self._wait_for_state_change(self.server, status)

    def test_pause_and_unpause(self) -> None:
        self.action({"pause": None}, "PAUSED")
        self.inject(self.server, E.EVENT_LIFECYCLE_PAUSED)
        self.quiet()
        self.assertEqual(MonitorState.INACTIVE, self.state(self.server))
        self.action({"unpause": None}, "ACTIVE")
        self.inject(self.server, E.EVENT_LIFECYCLE_RESUMED)
        self.assert_healthy_and_silent()

    def test_hard_reboot(self) -> None:
        self._reboot_server(self.server, hard=True)
        self.inject(self.server, E.EVENT_LIFECYCLE_STARTED)
        self.quiet()
        self.assert_healthy_and_silent()

    def test_soft_reboot(self) -> None:
        self._reboot_server(self.server, hard=False)
        self.inject(self.server, E.EVENT_LIFECYCLE_STARTED)
        self.quiet()
        self.assert_healthy_and_silent()

    def test_stop_and_start(self) -> None:
        self._stop_server(self.server)
        self.inject(self.server, E.EVENT_LIFECYCLE_STOPPED)
        self.quiet()
        self.assertEqual(MonitorState.INACTIVE, self.state(self.server))
        self._start_server(self.server)
        self.inject(self.server, E.EVENT_LIFECYCLE_STARTED)
        self.assert_healthy_and_silent()

    def test_snapshot(self) -> None:
        # A cold snapshot: the guest's memory is saved, the disk copied and
        # the guest restored (fakelibvirt cannot take live snapshots).
        self.flags(disable_libvirt_livesnapshot=True, group="workarounds")
        self._snapshot_server(self.server, "snap")
        self.notifier.wait_for_versioned_notifications(
            "instance.snapshot.end", timeout=base.WAIT)
        self._wait_for_state_change(self.server, "ACTIVE")
        # libvirt reports the restore from the saved memory as a start.
        self.inject(self.server, E.EVENT_LIFECYCLE_STARTED)
        self.assert_healthy_and_silent()

    def test_live_snapshot(self) -> None:
        # The live path (LibvirtDriver._live_snapshot): a block copy of the
        # root disk while the guest runs, then quiesce, abort the copy,
        # unquiesce. fakelibvirt does the libvirt part (its undefine and
        # define made as libvirt's); the qemu-img work on the disk files
        # the harness does not have is stubbed out.
        # fsFreeze stops the guest's agent, fsThaw lets it run again after
        # longer than the flavor takes to lose a heartbeat.
        for name, value in (("get_disk_size", 1 << 30),
                            ("get_disk_backing_file", None),
                            ("create_image", None),
                            ("extract_snapshot", None)):
            self.useFixture(fixtures.MockPatch(
                "nova.virt.libvirt.driver.libvirt_utils." + name,
                return_value=value))
        self.useFixture(fixtures.MockPatch("nova.privsep.path.chown"))
        self.keep_running_when_undefined()
        live: typing.List[str] = []
        original = libvirt_driver.LibvirtDriver._live_snapshot

        def live_snapshot(driver: typing.Any, *args: typing.Any,
                          **kwargs: typing.Any) -> typing.Any:
            live.append(args[1].uuid)  # (context, instance, ...)
            return original(driver, *args, **kwargs)

        self.useFixture(fixtures.MonkeyPatch(
            "nova.virt.libvirt.driver.LibvirtDriver._live_snapshot",
            live_snapshot))
        guest = self.guests.guests[self.server["id"]]
        frozen: typing.List[str] = []

        def freeze(domain: typing.Any) -> None:
            frozen.append(domain.UUIDString())
            guest.freeze()

        def thaw(domain: typing.Any) -> None:
            time.sleep(base.JUDGED_WITHIN)
            guest.thaw()

        self.useFixture(fixtures.MonkeyPatch(
            "nova.tests.fixtures.libvirt.Domain.fsFreeze", freeze))
        self.useFixture(fixtures.MonkeyPatch(
            "nova.tests.fixtures.libvirt.Domain.fsThaw", thaw))
        self._snapshot_server(self.server, "live-snap")
        self.notifier.wait_for_versioned_notifications(
            "instance.snapshot.end", timeout=base.WAIT)
        self.assertEqual([self.server["id"]], live)  # live, not cold
        self.assertEqual([self.server["id"]], frozen)  # quiesced
        self._wait_for_state_change(self.server, "ACTIVE")
        self.assert_healthy_and_silent()
        self.quiet()
        self.hang_is_detected(self.server)

    def test_shelve(self) -> None:
        # Kept on the host (not offloaded): powered off, then snapshotted.
        self.flags(shelved_offload_time=-1)
        self._shelve_server(self.server, expected_state="SHELVED")
        # No event: Nova holds libvirt's "stopped" back for 15 seconds, and
        # the snapshot after the power off must not make it look running.
        self.quiet()
        self.assertEqual(MonitorState.INACTIVE, self.state(self.server))


class LiveMigrationTest(
        libvirt_base.LibvirtMigrationMixin,  # type: ignore[misc]
        base.HeartbeatTestBase):
    """The guest moves between two computes that share the socket path.

    Both computes run in this process, so the server's socket path is the
    same on both, as the fake guest's relay is: the source monitor lets go
    of the instance, the destination's takes it over.
    """

    def setUp(self) -> None:
        super().setUp()
        self.start_compute("src")
        self.start_compute("dest")
        self.src = self.computes["src"]
        self.dest = self.computes["dest"]
        self.server = self.boot_monitored(host="src")

    def _migrate_stub(self, domain, destination, params, flags) -> None:
        """A switchover during which the guest is silent."""
        guest = self.guests.guests[self.server["id"]]
        guest.freeze()
        time.sleep(base.JUDGED_WITHIN)
        super()._migrate_stub(domain, destination, params, flags)
        guest.thaw()

    def test_live_migration(self) -> None:
        self.api.post_server_action(self.server["id"], {
            "os-migrateLive": {"host": "dest", "block_migration": "auto"}})
        self._wait_for_server_parameter(
            self.server, {"OS-EXT-SRV-ATTR:host": "dest", "status": "ACTIVE"},
            max_retries=int(base.WAIT * 2))
        self._wait_for_migration_status(self.server, ["completed"])
        self.inject(self.server, E.EVENT_LIFECYCLE_MIGRATION_COMPLETED,
                    host="src")
        self.inject(self.server, E.EVENT_LIFECYCLE_RESUMED, host="dest")
        self.assertEqual("dest", self.api.get_server(self.server["id"])[
            "OS-EXT-SRV-ATTR:host"])
        self.wait_state(self.server, MonitorState.HEALTHY, host="dest")
        self.wait_state(self.server, None, host="src")
        self.assertEqual([], self.heartbeat_notifications())
