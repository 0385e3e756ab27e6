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

"""The wheel ships the shim into nova/virt/, and nothing else of Nova's.

``compute_driver = heartbeat_libvirt.HeartbeatLibvirtDriver`` makes Nova
import ``nova.virt.heartbeat_libvirt``, so the wheel must carry that one
module; a ``nova/__init__.py`` or ``nova/virt/__init__.py`` of ours would
overwrite Nova's own on install and break it.
"""

from __future__ import annotations

import pathlib
import subprocess
import sys
import tempfile
import typing
import zipfile

import pytest

REPO = pathlib.Path(__file__).resolve().parents[3]
SHIM = "nova/virt/heartbeat_libvirt.py"


@pytest.fixture(scope="module")
def wheel_files() -> typing.Iterator[typing.List[str]]:
    with tempfile.TemporaryDirectory() as out:
        subprocess.run(
            [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps",
             "--no-build-isolation", "--wheel-dir", out, str(REPO)],
            check=True, capture_output=True, timeout=300)
        [wheel] = pathlib.Path(out).glob("nova_vm_heartbeat-*.whl")
        with zipfile.ZipFile(wheel) as archive:
            yield archive.namelist()


def test_the_shim_is_the_only_file_under_nova(wheel_files) -> None:
    assert [f for f in wheel_files if f.startswith("nova/")] == [SHIM]


def test_the_driver_and_validators_are_in_the_wheel(wheel_files) -> None:
    assert {"nova_vm_heartbeat/virt/driver.py",
            "nova_vm_heartbeat/virt/validators.py"} <= set(wheel_files)


def test_the_shim_imports_only_our_driver() -> None:
    text = (REPO / SHIM).read_text()
    imports = [line for line in text.splitlines()
               if line.startswith(("import ", "from "))]
    assert imports == [
        "from nova_vm_heartbeat.virt.driver import HeartbeatLibvirtDriver"]
