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

"""Real guest agent processes, and a test that plays the host.

:class:`FakeHost` listens on a UNIX socket, as QEMU's chardev does on the
host, and speaks the host end of the protocol with the real
:class:`~nova_vm_heartbeat.protocol.Connection`. :class:`AgentProcess`
runs ``python -m nova_vm_heartbeat.guest run`` (or a zipapp) against it.
Every wait has a deadline; nothing here can hang a test run.
"""

from __future__ import annotations

import os
import pathlib
import select
import signal
import socket
import subprocess
import sys
import time
import typing

from nova_vm_heartbeat import protocol

REPO_ROOT = pathlib.Path(__file__).resolve().parents[3]
#: Run the agents with this interpreter instead of the test's own, for
#: example the oldest Python guests may have (3.8).
GUEST_PYTHON_VARIABLE = "NOVA_VM_HEARTBEAT_GUEST_PYTHON"
#: The longest any single wait of a test lasts.
WAIT = 10.0

E = typing.TypeVar("E")


def environment() -> typing.Dict[str, str]:
    """The environment of child processes: this tree on the import path."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        [str(REPO_ROOT)] + [p for p in [env.get("PYTHONPATH")] if p])
    return env


class FakeHost:
    """The host side of the channel: a listening socket and a session.

    :param auto_welcome: answer every ``hello`` with ``welcome``.
    """

    def __init__(self, path: str, auto_welcome: bool = True,
                 interval: float = 1.0):
        self.path = path
        self.auto_welcome = auto_welcome
        self.interval = interval
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.listener.bind(path)
        self.listener.listen(4)
        self.sock: typing.Optional[socket.socket] = None
        self.conn = protocol.Connection(
            protocol.HOST, clock=time.monotonic)
        self.received: typing.List[object] = []
        self.errors: typing.List[protocol.RemoteProtocolError] = []
        self._unread: typing.List[object] = []
        self._seq = 0

    def close(self) -> None:
        self.drop()
        self.listener.close()

    def accept(self, timeout: float = WAIT, resync: bool = True) -> None:
        """Wait for the agent to connect; a fresh session starts.

        Like a real host, send 0xFF first, unless ``resync`` is false.
        """
        self.listener.settimeout(timeout)
        self.sock, _ = self.listener.accept()
        self.sock.settimeout(None)
        self.conn = protocol.Connection(
            protocol.HOST, clock=time.monotonic)
        self._unread = []
        if resync:
            self.resync()

    def drop(self) -> None:
        """Close the connection to the agent (the host side goes away)."""
        if self.sock is not None:
            self.sock.close()
            self.sock = None

    def send(self, message: protocol.Message) -> None:
        assert self.sock is not None
        self.sock.sendall(self.conn.send(message))

    def resync(self) -> None:
        assert self.sock is not None
        self.sock.sendall(self.conn.resync())

    def _pump(self, deadline: float) -> bool:
        """Read once (until ``deadline``); False at end of stream."""
        assert self.sock is not None
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([self.sock], [], [], left)[0]:
            return True
        data = self.sock.recv(65536)
        self.conn.receive_data(data)
        self._drain()
        return bool(data)

    def _drain(self) -> None:
        while True:
            try:
                event = self.conn.next_event()
            except protocol.RemoteProtocolError as err:
                self.errors.append(err)
                continue
            if event is protocol.NEED_DATA:
                return
            self.received.append(event)
            self._unread.append(event)
            if isinstance(event, protocol.Hello) and self.auto_welcome:
                self.welcome()

    def welcome(self) -> None:
        version = self.conn.offered_version
        assert version is not None
        self.send(protocol.Welcome(version=version, interval=self.interval,
                                   timeout=3.0, max_maintenance=600,
                                   session="test"))

    def expect(self, kind: typing.Type[E], timeout: float = WAIT,
               where: typing.Callable[[E], bool] = lambda event: True,
               ) -> E:
        """The next unread ``kind`` event that satisfies ``where``.

        Unread events before it are skipped.
        """
        deadline = time.monotonic() + timeout
        while True:
            while self._unread:
                event = self._unread.pop(0)
                if isinstance(event, kind) and where(event):
                    return event
            if time.monotonic() >= deadline:
                raise AssertionError("no %s within %g s; received: %r"
                                     % (kind.__name__, timeout,
                                        self.received[-10:]))
            if not self._pump(deadline) and not self._unread:
                raise AssertionError("the agent closed the channel while "
                                     "a %s was expected" % kind.__name__)

    def handshake(self, timeout: float = WAIT) -> protocol.Hello:
        """Accept the agent and complete the handshake.

        The agent sends 0xFF and ``hello`` when it opens the port, and
        ``hello`` again in answer to the host's 0xFF: both are welcomed, and
        the second one starts the session.
        """
        self.accept(timeout)
        self.expect(protocol.Resync)
        self.expect(protocol.Hello)
        return self.expect(protocol.Hello)

    def challenge(self) -> protocol.Response:
        """Send a challenge; the agent's response to it."""
        self._seq += 1
        challenge = protocol.Challenge(seq=self._seq,
                                       nonce="%032x" % (self._seq * 7919))
        self.send(challenge)
        response = self.expect(protocol.Response)
        assert (response.seq, response.nonce) == (challenge.seq,
                                                  challenge.nonce)
        return response


class AgentProcess:
    """A guest agent running as a real process, logging to a file."""

    def __init__(self, workdir: pathlib.Path,
                 command: typing.Optional[typing.List[str]] = None,
                 extra: typing.Sequence[str] = (),
                 env: typing.Optional[typing.Dict[str, str]] = None):
        self.workdir = workdir
        self.port = str(workdir / "port.sock")
        self.socket = str(workdir / "agent.sock")
        self.checks_dir = workdir / "checks.d"
        self.checks_dir.mkdir(exist_ok=True)
        self.reason_file = str(workdir / "shutdown-reason")
        self.log_path = workdir / "agent.log"
        self.command = command or [
            os.environ.get(GUEST_PYTHON_VARIABLE) or sys.executable, "-m",
            "nova_vm_heartbeat.guest"]
        self.extra = list(extra)
        self.env = env if env is not None else environment()
        self.proc: typing.Optional[subprocess.Popen[bytes]] = None

    def start(self) -> "AgentProcess":
        args = self.command + [
            "run", "--port", "unix:" + self.port, "--socket", self.socket,
            "--checks-dir", str(self.checks_dir),
            "--shutdown-reason-file", self.reason_file,
            "--log-level", "DEBUG"] + self.extra
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                args, stdout=log, stderr=subprocess.STDOUT, env=self.env,
                cwd=str(self.workdir))
        return self

    def wait_for_socket(self, timeout: float = WAIT) -> None:
        deadline = time.monotonic() + timeout
        while not os.path.exists(self.socket):
            assert self.proc is not None and self.proc.poll() is None, (
                "the agent exited:\n%s" % self.log())
            assert time.monotonic() < deadline, "no API socket"
            time.sleep(0.02)

    def cli(self, *args: str, timeout: float = WAIT,
            ) -> subprocess.CompletedProcess[str]:
        """Run a client command of the CLI against this agent."""
        return subprocess.run(
            self.command + list(args[:1]) + ["--socket", self.socket]
            + list(args[1:]), capture_output=True, text=True, env=self.env,
            timeout=timeout, check=False)

    def cli_background(self, *args: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            self.command + list(args[:1]) + ["--socket", self.socket]
            + list(args[1:]), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True, env=self.env)

    def signal(self, signum: int) -> None:
        assert self.proc is not None
        self.proc.send_signal(signum)

    def wait(self, timeout: float = WAIT) -> int:
        assert self.proc is not None
        return self.proc.wait(timeout)

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return "(no log)"

    def stop(self) -> None:
        """Make sure the process is gone."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(WAIT)
