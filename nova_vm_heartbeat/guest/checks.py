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

"""``checks.d``: health checks as executable files.

Every executable file in the checks directory runs every ``interval``
seconds, at most ``timeout`` seconds each, in a small pool of worker
threads. Exit status 0 means ok; anything else means failed, with the first
line of the output as the reason. Each script is the component
``check.<name>`` (see :func:`component_name`), registered with a TTL of
three intervals so that a script that stops running is noticed too.

The workers never touch the agent's state: :class:`CheckRunner` queues
their results and calls ``wake`` (which writes to the event loop's
self-pipe); the loop collects them with :meth:`CheckRunner.results`.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import logging
import os
import queue
import re
import signal
import subprocess
import tempfile
import threading
import typing

from nova_vm_heartbeat import protocol

LOG = logging.getLogger(__name__)

DEFAULT_DIR = "/etc/nova-vm-heartbeat/checks.d"
DEFAULT_INTERVAL = 10.0
DEFAULT_TIMEOUT = 5.0
#: Checks that run at once.
MAX_WORKERS = 4
#: The TTL of a check component, in intervals.
TTL_INTERVALS = 3
#: Most bytes of a check's output read for its reason.
MAX_OUTPUT = 4096
PREFIX = "check."

_UNSAFE_RE = re.compile(r"[^A-Za-z0-9_.:+~-]")


@dataclasses.dataclass(frozen=True)
class CheckResult:
    """The outcome of one run of one check."""

    component: str
    status: protocol.Health
    reason: str = ""
    #: How many runs of the check have completed, this one included.
    progress: typing.Optional[int] = None


def component_name(basename: str) -> str:
    """The component a script reports as: ``check.`` + its sanitised name."""
    return (PREFIX + _UNSAFE_RE.sub("_", basename))[:64]


def _first_line(output: bytes) -> str:
    for line in output.decode("utf-8", "replace").splitlines():
        if line.strip():
            return line.strip()
    return ""


def _reason(returncode: int, output: bytes) -> str:
    first = _first_line(output)
    if returncode == 0 or first:
        return first
    if returncode < 0:
        return "killed by signal %d" % -returncode
    return "exit status %d" % returncode


class CheckRunner:
    """Runs the checks of one directory on schedule, in a worker pool.

    :param wake: called from a worker thread when a result is queued.
    """

    def __init__(self, directory: str, interval: float, timeout: float,
                 clock: typing.Callable[[], float],
                 wake: typing.Callable[[], None],
                 max_workers: int = MAX_WORKERS):
        self.directory = directory
        self.interval, self.timeout = interval, timeout
        self._clock, self._wake = clock, wake
        self._max_workers = max_workers
        self._pool: typing.Optional[
            concurrent.futures.ThreadPoolExecutor] = None
        self._results: "queue.SimpleQueue[CheckResult]" = queue.SimpleQueue()
        self._scripts: typing.Dict[str, str] = {}   # component -> path
        self._running: typing.Set[str] = set()
        self._runs: typing.Dict[str, int] = {}
        self._procs: typing.Set[subprocess.Popen[bytes]] = set()
        self._lock = threading.Lock()
        self._closed = False
        self._missing_logged = False
        self.next_run = clock()

    @property
    def ttl(self) -> float:
        return TTL_INTERVALS * self.interval

    def tick(self) -> typing.List[str]:
        """Rescan and start the checks if they are due.

        :returns: the components of scripts that were removed.
        """
        if self._closed or self._clock() < self.next_run:
            return []
        self.next_run = self._clock() + self.interval
        removed = self._rescan()
        for component, path in sorted(self._scripts.items()):
            if component not in self._running:
                self._submit(component, path)
        return removed

    def _rescan(self) -> typing.List[str]:
        found = self.scan()
        removed = sorted(set(self._scripts) - set(found))
        for component in set(found) - set(self._scripts):
            LOG.info("New check %s: %s", component, found[component])
        for component in removed:
            LOG.info("Check %s was removed", component)
            self._runs.pop(component, None)
        self._scripts = found
        return removed

    def scan(self) -> typing.Dict[str, str]:
        """Executable files of the directory, by component name."""
        try:
            entries = sorted(os.scandir(self.directory),
                             key=lambda entry: entry.name)
        except OSError as err:
            if not self._missing_logged:
                LOG.info("No checks: cannot read %s: %s", self.directory,
                         err.strerror)
                self._missing_logged = True
            return {}
        self._missing_logged = False
        found: typing.Dict[str, str] = {}
        for entry in entries:
            if self._is_check(entry):
                found.setdefault(component_name(entry.name), entry.path)
        return found

    @staticmethod
    def _is_check(entry: os.DirEntry[str]) -> bool:
        if entry.name.startswith(".") or entry.name.endswith("~"):
            return False
        try:
            return entry.is_file() and os.access(entry.path, os.X_OK)
        except OSError:
            return False

    def _submit(self, component: str, path: str) -> None:
        if self._pool is None:
            self._pool = concurrent.futures.ThreadPoolExecutor(
                self._max_workers, thread_name_prefix="check")
        self._running.add(component)
        self._pool.submit(self._work, component, path)

    def _work(self, component: str, path: str) -> None:
        if self._closed:
            return
        try:
            result = self.run(component, path)
        except Exception as err:  # keep the pool alive whatever happens
            LOG.exception("Check %s crashed the runner", component)
            result = CheckResult(component, protocol.Health.FAILED,
                                 "cannot run: %s" % err)
        self._results.put(result)
        self._wake()

    def run(self, component: str, path: str) -> CheckResult:
        """Run one check now, in the calling thread."""
        with tempfile.TemporaryFile() as output:
            try:
                proc = subprocess.Popen(
                    [path], stdin=subprocess.DEVNULL, stdout=output,
                    stderr=subprocess.STDOUT, cwd="/",
                    start_new_session=True)
            except OSError as err:
                return CheckResult(component, protocol.Health.FAILED,
                                   "cannot run: %s" % err.strerror)
            returncode = self._wait(proc)
            if returncode is None:
                return CheckResult(component, protocol.Health.FAILED,
                                   "timed out after %g s" % self.timeout)
            output.seek(0)
            text = output.read(MAX_OUTPUT)
        status = (protocol.Health.OK if returncode == 0
                  else protocol.Health.FAILED)
        return CheckResult(component, status, _reason(returncode, text))

    def _wait(self, proc: subprocess.Popen[bytes]) -> typing.Optional[int]:
        """The exit status, or None if the check ran out of time."""
        with self._lock:
            self._procs.add(proc)
        try:
            return proc.wait(self.timeout)
        except subprocess.TimeoutExpired:
            _kill(proc)
            return None
        finally:
            with self._lock:
                self._procs.discard(proc)

    def results(self) -> typing.List[CheckResult]:
        """The results queued since the last call, of current scripts."""
        collected: typing.List[CheckResult] = []
        while True:
            try:
                result = self._results.get_nowait()
            except queue.Empty:
                return collected
            self._running.discard(result.component)
            if result.component in self._scripts:
                runs = self._runs.get(result.component, 0) + 1
                self._runs[result.component] = runs
                collected.append(dataclasses.replace(result, progress=runs))

    def close(self) -> None:
        """Stop: kill running checks; no new ones start."""
        self._closed = True
        with self._lock:
            procs = list(self._procs)
        for proc in procs:
            _kill(proc)
        if self._pool is not None:
            self._pool.shutdown(wait=False)


def _kill(proc: subprocess.Popen[bytes]) -> None:
    """Kill a check and everything it started (its process group)."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except OSError:
        pass
    try:
        proc.wait(5.0)
    except subprocess.TimeoutExpired:
        LOG.warning("Check process %d did not die", proc.pid)
