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

"""checks.d: scripts run with a timeout, in a pool, on schedule."""

from __future__ import annotations

import pathlib
import threading
import time
import typing

import pytest

from nova_vm_heartbeat.guest import checks
from nova_vm_heartbeat import protocol
from tests.unit.guest import fakes

OK = protocol.Health.OK
FAILED = protocol.Health.FAILED


def _script(directory: pathlib.Path, name: str, body: str,
            mode: int = 0o755) -> str:
    path = directory / name
    path.write_text("#!/bin/sh\n" + body + "\n")
    path.chmod(mode)
    return str(path)


def _runner(directory: pathlib.Path, clock: typing.Callable[[], float],
            timeout: float = 2.0,
            wake: typing.Callable[[], None] = lambda: None,
            ) -> checks.CheckRunner:
    return checks.CheckRunner(str(directory), interval=10.0, timeout=timeout,
                              clock=clock, wake=wake)


@pytest.mark.parametrize("body, status, reason", [
    ("exit 0", OK, ""),
    ("echo all good; exit 0", OK, "all good"),
    ("echo '  '; echo 'disk full' >&2; echo more; exit 1", FAILED,
     "disk full"),
    ("exit 7", FAILED, "exit status 7"),
    ("kill -TERM $$", FAILED, "killed by signal 15"),
    ("printf 'caf\\303\\251 \\377\\n'; exit 2", FAILED, "café \ufffd"),
])
def test_run_one_check(tmp_path: pathlib.Path, body: str,
                       status: protocol.Health, reason: str) -> None:
    path = _script(tmp_path, "probe", body)
    result = _runner(tmp_path, time.monotonic).run("check.probe", path)
    assert result == checks.CheckResult("check.probe", status, reason)


def test_check_that_hangs_is_killed(tmp_path: pathlib.Path) -> None:
    marker = tmp_path / "survived"
    path = _script(tmp_path, "hang", "(sleep 2; touch %s) & sleep 30"
                   % marker)
    started = time.monotonic()
    result = _runner(tmp_path, time.monotonic, timeout=0.2).run(
        "check.hang", path)
    assert result == checks.CheckResult("check.hang", FAILED,
                                        "timed out after 0.2 s")
    assert time.monotonic() - started < 2.0
    time.sleep(2.2)
    assert not marker.exists()  # its children were killed too


def test_check_that_cannot_run(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "broken"
    path.write_text("no interpreter line\n")
    path.chmod(0o755)
    result = _runner(tmp_path, time.monotonic).run("check.broken",
                                                   str(path))
    assert result.status is FAILED
    assert result.reason.startswith("cannot run")


@pytest.mark.parametrize("basename, component", [
    ("disk", "check.disk"),
    ("10-disk.sh", "check.10-disk.sh"),
    ("my check!", "check.my_check_"),
    ("é", "check._"),
    ("x" * 80, "check." + "x" * 58),
])
def test_component_names(basename: str, component: str) -> None:
    assert checks.component_name(basename) == component
    assert protocol.fields.NAME_RE.match(component)


def test_scan_finds_executable_files_only(tmp_path: pathlib.Path) -> None:
    _script(tmp_path, "b-run", "exit 0")
    _script(tmp_path, "a-run", "exit 0")
    _script(tmp_path, "not-executable", "exit 0", mode=0o644)
    _script(tmp_path, ".hidden", "exit 0")
    _script(tmp_path, "backup~", "exit 0")
    (tmp_path / "subdir").mkdir()
    assert _runner(tmp_path, time.monotonic).scan() == {
        "check.a-run": str(tmp_path / "a-run"),
        "check.b-run": str(tmp_path / "b-run")}


def test_missing_directory_means_no_checks(tmp_path: pathlib.Path) -> None:
    runner = _runner(tmp_path / "absent", time.monotonic)
    assert runner.scan() == {}
    assert runner.tick() == []


def _collect(runner: checks.CheckRunner, woken: threading.Event,
             count: int) -> typing.List[checks.CheckResult]:
    results: typing.List[checks.CheckResult] = []
    deadline = time.monotonic() + 10
    while len(results) < count:
        assert woken.wait(max(0.0, deadline - time.monotonic()))
        woken.clear()
        results += runner.results()
    return sorted(results, key=lambda r: r.component)


def test_runner_schedules_rescans_and_counts_runs(
        tmp_path: pathlib.Path) -> None:
    clock = fakes.FakeClock()
    woken = threading.Event()
    _script(tmp_path, "good", "exit 0")
    _script(tmp_path, "bad", "echo nope; exit 1")
    runner = _runner(tmp_path, clock, wake=woken.set)
    try:
        assert runner.ttl == 30.0
        assert runner.tick() == []
        assert _collect(runner, woken, 2) == [
            checks.CheckResult("check.bad", FAILED, "nope", 1),
            checks.CheckResult("check.good", OK, "", 1)]
        assert runner.tick() == []  # not due yet: nothing runs
        (tmp_path / "bad").unlink()
        clock.advance(10)
        assert runner.tick() == ["check.bad"]
        assert _collect(runner, woken, 1) == [
            checks.CheckResult("check.good", OK, "", 2)]
        assert runner.next_run == clock.now + 10
    finally:
        runner.close()


def test_close_kills_running_checks(tmp_path: pathlib.Path) -> None:
    woken = threading.Event()
    _script(tmp_path, "slow", "sleep 30")
    runner = _runner(tmp_path, time.monotonic, timeout=60, wake=woken.set)
    runner.tick()
    time.sleep(0.3)
    started = time.monotonic()
    runner.close()
    assert woken.wait(5)
    assert time.monotonic() - started < 5
    assert runner.tick() == []  # closed: nothing starts
