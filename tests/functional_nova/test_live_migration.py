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

"""Live migration between hosts with different heartbeat socket directories.

Nova keeps the source's channel path when it live migrates: the
destination refuses, in Nova's pre-live-migration check, to receive a
monitored instance from a host with another ``[heartbeat] socket_dir``,
and the migration fails before anything moved, with the reason logged.
Both computes run in this process with one configuration: the source
publishes its directory (compute node stats) when it starts, then the
destination starts with another.
"""

from __future__ import annotations

import os
import tempfile

from nova.tests.functional.api import client

from nova_vm_heartbeat.monitor.machine import MonitorState
from tests.functional_nova import base


class DifferentSocketDirsTest(base.HeartbeatTestBase):

    def setUp(self) -> None:
        super().setUp()
        self.start_compute("src")
        self.server = self.boot_monitored(host="src")

    def start_dest(self, socket_dir: str) -> None:
        self.flags(socket_dir=socket_dir, group="heartbeat")
        self.start_compute("dest")

    def migrate_and_expect_refusal(self, reason: str) -> None:
        # The harness turns the conductor's cast into a call, so the
        # refusal (NoValidHost once the only host is refused) reaches the
        # API request; in a real cloud the request is accepted and the
        # migration ends in "error".
        self.assertRaises(
            client.OpenStackApiException, self.api.post_server_action,
            self.server["id"], {"os-migrateLive": {
                "host": "dest", "block_migration": "auto"}})
        self._wait_for_migration_status(self.server, ["error"])
        server = self.api.get_server(self.server["id"])
        self.assertEqual("src", server["OS-EXT-SRV-ATTR:host"])
        self.assertEqual("ACTIVE", server["status"])
        self.assertIn(reason, self.stdlog.logger.output)
        # Judged again where it runs (once Nova's task is over), and
        # nothing was reported.
        self.wait_state(self.server, MonitorState.HEALTHY, host="src")
        self.assertEqual([], self.lost_and_restored())

    def test_another_socket_dir_is_refused_before_anything_moves(
            self) -> None:
        other = tempfile.mkdtemp(prefix="hb2", dir="/tmp")
        self.addCleanup(os.rmdir, other)
        self.start_dest(other)
        self.migrate_and_expect_refusal(
            "[heartbeat] socket_dir is %s on the source host and %s on the "
            "destination host" % (self.socket_dir, other))

    def test_a_missing_socket_dir_on_the_destination_is_refused(
            self) -> None:
        missing = os.path.join(self.socket_dir, "missing")
        self.start_dest(missing)
        self.migrate_and_expect_refusal(
            "the heartbeat socket directory %s ([heartbeat] socket_dir) "
            "does not exist on the destination host" % missing)
