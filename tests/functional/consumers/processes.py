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

"""OpenStack services run by the consumer tests, each in its own process.

masakari-api and vitrage-graph both fork workers, so each runs in its own
process group (session), signalled as a whole; their output goes to a log
file that failure messages quote.
"""

from __future__ import annotations

import os
import pathlib
import signal
import subprocess
import sys
import typing

BIN = pathlib.Path(sys.executable).parent
#: How much of a log a failure message quotes, in characters.
TAIL = 4000


def run_once(argv: typing.Sequence[str], timeout: float = 120) -> None:
    """Run a set-up command (a database sync) that must succeed."""
    result = subprocess.run([str(BIN / argv[0]), *argv[1:]],
                            capture_output=True, text=True, timeout=timeout,
                            check=False)
    if result.returncode != 0:
        raise RuntimeError("%s failed (exit %d):\n%s" % (
            " ".join(argv), result.returncode,
            (result.stdout + result.stderr)[-TAIL:]))


class ServiceProcess:
    """One service: started, signalled and stopped as a process group."""

    def __init__(self, argv: typing.Sequence[str], log: pathlib.Path):
        self.argv = [str(BIN / argv[0]), *argv[1:]]
        self.log = log
        self._process: typing.Optional[subprocess.Popen[bytes]] = None

    def start(self) -> None:
        with open(self.log, "ab") as log:
            self._process = subprocess.Popen(
                self.argv, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True)

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def check_running(self) -> None:
        """:raises RuntimeError: the service exited (its log says why)."""
        assert self._process is not None, "not started"
        if self._process.poll() is not None:
            raise RuntimeError("%s exited with %s; its log %s ends:\n%s" % (
                self.argv[0], self._process.returncode, self.log,
                self.text()[-TAIL:]))

    def signal(self, signum: int) -> None:
        assert self._process is not None, "not started"
        os.killpg(self._process.pid, signum)

    def stop(self, timeout: float = 30) -> typing.Optional[int]:
        """SIGTERM to the group, SIGKILL if it does not end in time.

        :returns: the exit status, None if it was not running.
        """
        if self._process is None:
            return None
        process, self._process = self._process, None
        try:
            os.killpg(process.pid, signal.SIGTERM)
            return process.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            return process.wait(10)
        except ProcessLookupError:
            return process.wait(10)

    def kill(self) -> None:
        """SIGKILL: the service dies with whatever it holds."""
        if self._process is not None:
            self.signal(signal.SIGKILL)
            self._process.wait(10)
            self._process = None
