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

"""The agent process runs checks.d scripts; the host sees their results."""

from __future__ import annotations

import pathlib
import typing

from nova_vm_heartbeat import protocol
from tests.functional.guest import conftest
from tests.functional.guest import harness


def _script(directory: pathlib.Path, name: str, body: str) -> None:
    path = directory / name
    path.write_text("#!/bin/sh\n" + body + "\n")
    path.chmod(0o755)


def _checks(message: protocol.Report,
            ) -> typing.Dict[str, protocol.Component]:
    return {c.name: c for c in message.components}


def test_failing_check_becomes_a_failed_component(
        agent: harness.AgentProcess, host: harness.FakeHost) -> None:
    _script(agent.checks_dir, "disk", "echo 'disk / is 97% full'; exit 1")
    _script(agent.checks_dir, "ok", "echo fine")
    host.handshake()
    report = host.expect(protocol.Report, where=lambda r: len(
        r.components) == 2)
    checks = _checks(report)
    assert report.health is protocol.Health.FAILED
    assert checks["check.disk"].status is protocol.Health.FAILED
    assert checks["check.disk"].reason == "disk / is 97% full"
    assert checks["check.ok"].status is protocol.Health.OK
    response = host.challenge()
    assert response.health is protocol.Health.FAILED


def test_new_and_removed_scripts_are_picked_up(
        agent: harness.AgentProcess, host: harness.FakeHost) -> None:
    host.handshake()
    _script(agent.checks_dir, "late", "exit 3")
    report = host.expect(protocol.Report,
                         where=lambda r: "check.late" in _checks(r))
    assert _checks(report)["check.late"].reason == "exit status 3"
    (agent.checks_dir / "late").unlink()
    host.expect(protocol.Report, where=lambda r: r.components == ())


def test_hung_check_times_out(agent_factory: conftest.AgentFactory,
                              host: harness.FakeHost) -> None:
    process = agent_factory(extra=["--check-interval", "0.5",
                                   "--check-timeout", "0.3"])
    _script(process.checks_dir, "hang", "sleep 30")
    host.handshake()
    report = host.expect(protocol.Report,
                         where=lambda r: "check.hang" in _checks(r))
    assert _checks(report)["check.hang"].reason == "timed out after 0.3 s"
