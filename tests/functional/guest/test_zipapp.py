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

"""The zipapp built by tools/build-guest-zipapp.py is a working agent."""

from __future__ import annotations

import os
import pathlib
import shutil
import signal
import subprocess
import sys
import typing
import zipfile

import pytest

from nova_vm_heartbeat import protocol
from tests.functional.guest import conftest
from tests.functional.guest import harness

BUILD_TOOL = harness.REPO_ROOT / "tools" / "build-guest-zipapp.py"
#: An interpreter of the oldest Python the agent supports, to run the
#: zipapp with too: this variable, else python3.8 on PATH if it works.
OLDEST_PYTHON_VARIABLE = harness.GUEST_PYTHON_VARIABLE


def _candidates() -> typing.List[str]:
    """Where a Python 3.8 may be: the variable, PATH, pyenv, the system."""
    pyenv = pathlib.Path(os.environ.get("PYENV_ROOT",
                                        pathlib.Path.home() / ".pyenv"))
    found = [os.environ.get(OLDEST_PYTHON_VARIABLE),
             shutil.which("python3.8")]
    found += sorted(str(p) for p in pyenv.glob("versions/3.8*/bin/python3.8"))
    found.append("/usr/bin/python3.8")
    return [c for c in found if c]


def _works(candidate: str) -> bool:
    try:
        subprocess.run([candidate, "-c", "import sys; "
                        "assert sys.version_info >= (3, 8)"],
                       check=True, capture_output=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return False
    return True


def _oldest_python() -> typing.Optional[str]:
    return next((c for c in _candidates() if _works(c)), None)


#: The version the test archive is built with (its agent reports it).
ZIPAPP_VERSION = "1.2.3.dev4"


@pytest.fixture(scope="module")
def zipapp_path(tmp_path_factory: pytest.TempPathFactory) -> pathlib.Path:
    output = tmp_path_factory.mktemp("zipapp") / "agent.pyz"
    result = subprocess.run(
        [sys.executable, str(BUILD_TOOL), "--output", str(output),
         "--version", ZIPAPP_VERSION],
        capture_output=True, text=True, timeout=60, check=True)
    assert result.stdout.strip() == str(output)
    return output


def test_zipapp_holds_only_the_guest_side(zipapp_path: pathlib.Path) -> None:
    with open(zipapp_path, "rb") as stream:
        assert stream.readline() == b"#!/usr/bin/env python3\n"
    names = zipfile.ZipFile(zipapp_path).namelist()
    assert "__main__.py" in names
    assert "nova_vm_heartbeat/__init__.py" in names
    assert "nova_vm_heartbeat/guest/cli.py" in names
    assert "nova_vm_heartbeat/protocol/connection.py" in names
    assert "nova_vm_heartbeat/common/unix_socket.py" in names
    files = [n for n in names if not n.endswith("/")]
    assert all(n == "__main__.py" or n.startswith(
        ("nova_vm_heartbeat/common/", "nova_vm_heartbeat/guest/",
         "nova_vm_heartbeat/protocol/"))
        or n == "nova_vm_heartbeat/__init__.py" for n in files), files
    assert not any("__pycache__" in n for n in names)
    version = zipfile.ZipFile(zipapp_path).read(
        "nova_vm_heartbeat/guest/VERSION")
    assert version.decode().strip() == ZIPAPP_VERSION


def test_the_default_version_is_the_packages(
        tmp_path: pathlib.Path) -> None:
    output = tmp_path / "agent.pyz"
    subprocess.run([sys.executable, str(BUILD_TOOL), "--output", str(output)],
                   capture_output=True, timeout=60, check=True)
    version = zipfile.ZipFile(output).read("nova_vm_heartbeat/guest/VERSION")
    from nova_vm_heartbeat import version as package_version
    assert version.decode().strip() == (
        package_version.version_info.version_string())


@pytest.mark.parametrize("python", ["current", "oldest"])
def test_zipapp_agent_talks_to_the_host(
        python: str, zipapp_path: pathlib.Path,
        agent_factory: conftest.AgentFactory, host: harness.FakeHost) -> None:
    interpreter = sys.executable if python == "current" else _oldest_python()
    if interpreter is None:
        pytest.skip("no python3.8 found (set %s)" % OLDEST_PYTHON_VARIABLE)
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)  # the archive must be self-contained
    process = agent_factory(command=[interpreter, str(zipapp_path)], env=env)
    hello = host.handshake()
    assert hello.agent == "nova-vm-heartbeat-guest"
    assert hello.agent_version == ZIPAPP_VERSION
    assert host.challenge().health is protocol.Health.OK
    process.wait_for_socket()
    result = process.cli("notify", "--component", "app", "--status",
                         "failed", "--ttl", "30")
    assert result.returncode == 0, result.stderr
    assert host.challenge().health is protocol.Health.FAILED
    process.signal(signal.SIGTERM)
    host.expect(protocol.Bye)
    assert process.wait() == 0
