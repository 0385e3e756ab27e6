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

"""SIGTERM right after a long-running console script starts: a clean stop.

A service manager may stop the monitor the moment it started it. Each
attempt starts the monitor's console-script entry point (as setup.cfg
declares it), waits until the process catches SIGTERM (the first thing
its entry point does; /proc/PID/status shows it), waits a little more
(none to most of a start-up), sends SIGTERM, and expects exit status 0,
never 143 (killed by the signal).
"""

from __future__ import annotations

import configparser
import pathlib
import signal
import subprocess
import sys
import time
import typing

import pytest

REPO_ROOT = pathlib.Path(__file__).resolve().parents[3]
ATTEMPTS = 24
#: Delays after the handler is in place, spread over a start-up.
DELAYS = [i * 0.05 for i in range(ATTEMPTS)]


def _entry_point(script: str) -> typing.Tuple[str, str]:
    parser = configparser.ConfigParser()
    parser.read(REPO_ROOT / "setup.cfg")
    for line in parser["entry_points"]["console_scripts"].splitlines():
        name, _, target = (part.strip() for part in line.partition("="))
        if name == script:
            module, _, function = target.partition(":")
            return module, function
    raise AssertionError("no console script %s" % script)


def _catches_sigterm(pid: int) -> bool:
    try:
        status = pathlib.Path("/proc/%d/status" % pid).read_text()
    except OSError:
        return False
    for line in status.splitlines():
        if line.startswith("SigCgt:"):
            return bool(int(line.split()[1], 16) & (1 << (signal.SIGTERM - 1)))
    return False


@pytest.fixture
def config_file(tmp_path: pathlib.Path) -> pathlib.Path:
    path = tmp_path / "monitor.conf"
    path.write_text(
        "[heartbeat_sink]\ndriver = log\n"
        "[heartbeat_standalone]\nhost = compute-1\n"
        "libvirt_uri = test:///default\n"
        "[heartbeat_admin]\nsocket_path = %s\n" % (tmp_path / "admin.sock"))
    return path


def _attempt(command: typing.List[str], delay: float) -> int:
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while not _catches_sigterm(process.pid):
            assert process.poll() is None, "exited before catching SIGTERM"
            assert time.monotonic() < deadline, "SIGTERM never caught"
            time.sleep(0.001)
        time.sleep(delay)
        process.send_signal(signal.SIGTERM)
        return process.wait(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_sigterm_right_after_start_stops_the_monitor_cleanly(
        config_file: pathlib.Path) -> None:
    module, function = _entry_point("nova-vm-heartbeat-monitor")
    code = ("import sys; from %s import %s as main; sys.exit(main())"
            % (module, function))
    command = [sys.executable, "-c", code, "--config-file", str(config_file)]
    statuses = [_attempt(command, delay) for delay in DELAYS]
    assert statuses == [0] * ATTEMPTS, statuses
