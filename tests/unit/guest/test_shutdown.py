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

"""The reason given in bye: reason file, then systemd, then agent_stop."""

from __future__ import annotations

import pathlib
import typing

import pytest

from nova_vm_heartbeat.guest import shutdown
from nova_vm_heartbeat import protocol

Bye = protocol.ByeReason


class FakeSystemctl:
    """Answers ``systemctl`` the way a system in ``state`` would."""

    def __init__(self, state: str = "running", jobs: str = ""):
        self.state, self.jobs = state, jobs
        self.calls: typing.List[typing.List[str]] = []

    def __call__(self, argv: typing.Sequence[str]) -> str:
        self.calls.append(list(argv))
        if argv[1] == "is-system-running":
            return self.state + "\n"
        return self.jobs


@pytest.mark.parametrize("text, reason", [
    ("reboot\n", Bye.REBOOT), ("shutdown", Bye.SHUTDOWN),
    ("  REBOOT  \n", Bye.REBOOT)])
def test_reason_file_wins(tmp_path: pathlib.Path, text: str,
                          reason: protocol.ByeReason) -> None:
    path = tmp_path / "shutdown-reason"
    path.write_text(text)
    systemctl = FakeSystemctl("stopping")
    assert shutdown.bye_reason(str(path), systemctl) is reason
    assert systemctl.calls == []


@pytest.mark.parametrize("jobs, reason", [
    ("", Bye.SHUTDOWN),
    ("  3 poweroff.target start waiting\n", Bye.SHUTDOWN),
    ("  7 reboot.target start waiting\n 9 x.service stop running\n",
     Bye.REBOOT),
    ("12 kexec.target start waiting\n", Bye.REBOOT),
])
def test_systemd_stopping(tmp_path: pathlib.Path, jobs: str,
                          reason: protocol.ByeReason) -> None:
    path = tmp_path / "shutdown-reason"
    path.write_text("something else\n")
    systemctl = FakeSystemctl("stopping", jobs)
    assert shutdown.bye_reason(str(path), systemctl) is reason


@pytest.mark.parametrize("state", ["running", "degraded", "offline", ""])
def test_otherwise_only_the_agent_stops(tmp_path: pathlib.Path,
                                        state: str) -> None:
    systemctl = FakeSystemctl(state, "1 reboot.target start waiting\n")
    assert shutdown.bye_reason(str(tmp_path / "absent"),
                               systemctl) is Bye.AGENT_STOP


def test_empty_reason_file_setting_skips_the_file() -> None:
    assert shutdown.bye_reason("", FakeSystemctl()) is Bye.AGENT_STOP


def test_run_command() -> None:
    assert shutdown.run_command(["echo", "stopping"]) == "stopping\n"
    assert shutdown.run_command(["/nonexistent/systemctl"]) == ""
