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

"""``nova-vm-heartbeat-masakari-bridge`` run as the operator runs it.

Each :class:`BridgeProcess` is the console script in its own process,
with a configuration file written here and its log in a file the test
reads. It can be stopped (SIGTERM) or killed (SIGKILL) to show what a
bridge that dies leaves behind.
"""

from __future__ import annotations

import pathlib

from tests.functional.consumers.processes import ServiceProcess
from tests.functional.fixtures import wait_until


#: ``[masakari_bridge] max_verdict_age`` of the bridges under test.
MAX_VERDICT_AGE = 120


def write_config(path: pathlib.Path, transport_url: str, masakari_url: str,
                 pool: str, topic: str) -> None:
    """The bridge's configuration; the default fault classes."""
    lines = [
        "[DEFAULT]",
        "transport_url = %s" % transport_url,
        "debug = true",
        "[oslo_messaging_rabbit]",
        "rabbit_interval_max = 2",
        "[masakari_bridge]",
        "pool = %s" % pool,
        "topics = %s" % topic,
        "attempts = 2",
        "retry_delay = 0.5",
        "retry_max_delay = 2",
        "max_verdict_age = %d" % MAX_VERDICT_AGE,
        # noauth2: any request is an admin's. The "none" plugin sends no
        # token; openstacksdk goes to endpoint_override.
        "[masakari]",
        "auth_type = none",
        "endpoint = %s" % masakari_url,
        "endpoint_override = %s" % masakari_url,
    ]
    path.write_text("\n".join(lines) + "\n")


class BridgeProcess(ServiceProcess):
    """One bridge, its log, and its end."""

    def __init__(self, config: pathlib.Path, log: pathlib.Path):
        super().__init__(["nova-vm-heartbeat-masakari-bridge",
                          "--config-file", str(config)], log)

    def start(self) -> None:
        super().start()
        self.wait_for("Listening for heartbeat verdicts", 60)

    def wait_for(self, text: str, timeout: float) -> float:
        def seen() -> bool:
            self.check_running()
            return text in self.text()
        return wait_until(seen, timeout, "%r in %s" % (text, self.log))
