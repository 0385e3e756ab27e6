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

"""Real services for the functional tests.

:func:`rabbitmq` gives the tests a RabbitMQ broker on 127.0.0.1. It uses a
broker that already runs, or starts a private node with
``tools/rabbitmq.sh``, which the tests then stop when they end. Tests
take the broker with :func:`broker` (shared) or simulate an outage with
:meth:`RabbitMQ.outage` (exclusive).

Several test sessions may run on one machine at once (two checkouts, two
developers), and they share the one broker. File locks in the temporary
directory keep them from pulling it from under each other: an outage
waits until no other session's test uses the broker, and the last session
to end stops the node if a test session started it, never one that a
person started.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import pathlib
import subprocess
import tempfile
import time
import typing

import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]
SCRIPT = REPO / "tools" / "rabbitmq.sh"

#: Longest any command of the script may take, in seconds (the script
#: itself waits at most 60 s for the broker).
COMMAND_TIMEOUT = 120
#: Longest wait for another session to let go of the broker, in seconds.
LOCK_TIMEOUT = 300


class BrokerError(Exception):
    """tools/rabbitmq.sh failed; the message carries what it said."""


class FileLock:
    """An ``flock`` lock on a file, shared or exclusive, between processes.

    Taking it again in the other mode converts it (not atomically: the
    lock is let go of first, as flock(2) says).
    """

    def __init__(self, path: str):
        self.path = path
        self._fd: typing.Optional[int] = None

    def acquire(self, exclusive: bool, timeout: float = LOCK_TIMEOUT,
                blocking: bool = True) -> bool:
        if self._fd is None:
            self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o666)
        mode = (fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH) | fcntl.LOCK_NB
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(self._fd, mode)
                return True
            except BlockingIOError:
                if not blocking:
                    return False
                if time.monotonic() > deadline:
                    raise BrokerError("another test session held %s for "
                                      "%.0f s" % (self.path, timeout))
                time.sleep(0.2)

    @property
    def held(self) -> bool:
        return self._fd is not None

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing lets go of the lock
            self._fd = None


def _lock_path(port: str, name: str) -> str:
    return os.path.join(tempfile.gettempdir(),
                        "nova-vm-heartbeat-rabbitmq-%s.%s" % (port, name))


class RabbitMQ:
    """A broker on 127.0.0.1, controlled through ``tools/rabbitmq.sh``."""

    def __init__(self, script: pathlib.Path = SCRIPT):
        self.script = script
        port = os.environ.get("NOVA_VM_HEARTBEAT_RABBITMQ_PORT", "5672")
        #: The oslo.messaging transport URL of the broker.
        self.url = "rabbit://guest:guest@127.0.0.1:%s/" % port
        #: Whether tools/rabbitmq.sh controls the broker (can stop and
        #: start its application); not so for a broker it did not start.
        self.controllable = True
        #: Held (shared) by every test that uses the broker; an outage
        #: takes it exclusively.
        self._use = FileLock(_lock_path(port, "use.lock"))
        #: Held (shared) by every session while it runs.
        self._sessions = FileLock(_lock_path(port, "sessions.lock"))
        #: Exists while the node was started by a test session.
        self._marker = _lock_path(port, "started-by-tests")

    # -- the script -----------------------------------------------------

    def _run(self, command: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(self.script), command], capture_output=True, text=True,
            timeout=COMMAND_TIMEOUT, check=False)

    def _check(self, command: str) -> str:
        result = self._run(command)
        output = result.stdout + result.stderr
        if result.returncode != 0:
            raise BrokerError("%s %s failed (exit %d):\n%s"
                              % (self.script, command, result.returncode,
                                 output))
        return output

    # -- the session ----------------------------------------------------

    def open_session(self) -> None:
        """Make sure a broker runs, starting one if needed."""
        self._sessions.acquire(exclusive=False)
        self._use.acquire(exclusive=True)
        try:
            status = self._run("status")
            if status.returncode == 0:
                self.controllable = ("not started by this script"
                                     not in status.stdout)
                return
            print(self._check("start"))
            pathlib.Path(self._marker).touch()
        finally:
            self._use.release()

    def close_session(self) -> None:
        """Stop the node if the tests started it and no session is left."""
        self._sessions.release()
        if not os.path.exists(self._marker):
            return
        if not self._sessions.acquire(exclusive=True, blocking=False):
            return  # the last session to end stops it
        try:
            os.unlink(self._marker)
            print(self._check("stop"))
        finally:
            self._sessions.release()

    # -- tests ----------------------------------------------------------

    @contextlib.contextmanager
    def using(self) -> typing.Iterator[RabbitMQ]:
        """Use the broker: no other session's outage meanwhile."""
        self._use.acquire(exclusive=False)
        try:
            yield self
        finally:
            self._use.release()

    @contextlib.contextmanager
    def outage(self, whole_node: bool = False) -> typing.Iterator[None]:
        """Stop the broker's application for the ``with`` block.

        Clients' connections drop and new ones are refused; the node stays
        (with ``whole_node``, the node is stopped too: a broker restart).
        The application is started again (and accepts connections) when
        the block ends. Waits until no other session uses the broker; the
        test's own shared hold (:meth:`using`) is converted meanwhile.
        """
        self.require_control()
        shared = self._use.held
        self._use.acquire(exclusive=True)
        try:
            self._check("stop" if whole_node else "stop-app")
            try:
                yield
            finally:
                self._check("start" if whole_node else "start-app")
        finally:
            if shared:
                self._use.acquire(exclusive=False)
            else:
                self._use.release()

    def require_control(self) -> None:
        """Skip the test unless the broker can be stopped and started."""
        if not self.controllable:
            pytest.skip("the broker at %s was not started by %s, which "
                        "cannot stop and start it; stop that broker or set "
                        "NOVA_VM_HEARTBEAT_RABBITMQ_PORT to a free port"
                        % (self.url, self.script.name))


@pytest.fixture(scope="session")
def rabbitmq() -> typing.Iterator[RabbitMQ]:
    """The broker, running for the whole session (see :func:`broker`)."""
    server = RabbitMQ()
    try:
        server.open_session()
    except (BrokerError, subprocess.TimeoutExpired) as err:
        server.close_session()
        pytest.fail("no RabbitMQ broker for the functional tests: %s" % err,
                    pytrace=False)
    try:
        yield server
    finally:
        server.close_session()


@pytest.fixture
def broker(rabbitmq: RabbitMQ) -> typing.Iterator[RabbitMQ]:
    """The broker, held for one test.

    Every test that talks to the broker uses this fixture, directly or
    through its other fixtures.
    """
    with rabbitmq.using():
        yield rabbitmq


def wait_until(predicate: typing.Callable[[], bool], timeout: float,
               what: str) -> float:
    """Wait until ``predicate()`` is true; return the seconds it took.

    :raises AssertionError: still false after ``timeout`` seconds.
    """
    started = time.monotonic()
    while not predicate():
        if time.monotonic() - started > timeout:
            raise AssertionError("%s: not after %.0f s" % (what, timeout))
        time.sleep(0.05)
    return time.monotonic() - started
