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

"""``nova-vm-heartbeat status`` against a real admin socket."""

from __future__ import annotations

import io
import json
import pathlib
import typing

import pytest

from nova_vm_heartbeat.admin.server import AdminServer
from nova_vm_heartbeat.cmd import status
from nova_vm_heartbeat.runtime.options import AdminEndpoint
from tests.unit.admin import fakes


@pytest.fixture
def path(tmp_path: pathlib.Path) -> typing.Iterator[str]:
    socket_path = str(tmp_path / "admin.sock")
    server = AdminServer(AdminEndpoint(socket_path), fakes.Provider(),
                         "compute-1")
    server.start()
    try:
        yield socket_path
    finally:
        server.stop()


def run(*argv: str) -> typing.Tuple[int, str]:
    out = io.StringIO()
    code = status.run(status.parser().parse_args(["status", *argv]), out)
    return code, out.getvalue()


def test_the_table(path: str) -> None:
    code, out = run("--socket", path)
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == "Heartbeat monitor of host compute-1"
    assert lines[1].startswith("UUID")
    # Sorted by name: db-1, instance-00000002, web-1.
    assert [line.split()[1] for line in lines[2:5]] == [
        "db-1", "instance-00000002", "web-1"]
    assert lines[-1] == "3 instances: 1 failed, 1 healthy, 1 suspended"


def test_json_and_state_filters(path: str) -> None:
    code, out = run("--socket", path, "--json", "--state", "failed,healthy")
    assert code == 0
    answer = json.loads(out)
    assert answer["host"] == "compute-1"
    assert sorted(i["state"] for i in answer["instances"]) == [
        "failed", "healthy"]
    code, out = run("--socket", path, "--json", "--state", "suspended",
                    "--state", "failed")
    assert sorted(i["state"] for i in json.loads(out)["instances"]) == [
        "failed", "suspended"]


def test_an_unknown_state_is_a_usage_error(
        capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        status.parser().parse_args(["status", "--state", "dead"])
    assert exit_info.value.code == 2
    assert "unknown state dead" in capsys.readouterr().err


def test_no_monitor_exits_1_with_a_clear_message(
        tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = run("--socket", str(tmp_path / "none.sock"))
    assert code == 1 and out == ""
    err = capsys.readouterr().err
    assert "nova-vm-heartbeat status: Cannot ask the monitor at" in err
    assert "the monitor is not running" in err


def test_the_socket_path_comes_from_the_configuration(
        path: str, tmp_path: pathlib.Path) -> None:
    conf = tmp_path / "nova.conf"
    conf.write_text("[DEFAULT]\nhost = x\n[heartbeat_admin]\n"
                    "socket_path = %s\n" % path)
    code, out = run("--config-file", str(conf))
    assert code == 0 and "3 instances" in out


def test_the_default_socket_path(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(status, "_default_files", lambda: [])
    args = status.parser().parse_args(["status"])
    assert status.socket_path(args) == "/run/nova-vm-heartbeat/admin.sock"


def test_an_unreadable_configuration_is_reported(
        tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]) -> None:
    conf = tmp_path / "broken.conf"
    conf.write_text("[heartbeat_admin\nsocket_path = x\n")
    code, _ = run("--config-file", str(conf))
    assert code == 1
    assert "cannot read" in capsys.readouterr().err
