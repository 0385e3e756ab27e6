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

"""Many simulated guests in one process, for benchmarks/scale.py.

Each guest is what QEMU and a guest agent are to the monitor: a listening
UNIX socket (QEMU binds the channel socket, the monitor connects) that
speaks the heartbeat protocol. The handshake (0xFF, ``hello``) is made by
the real codec; challenges are answered from a template of the exact
bytes the reference agent sends, so that thousands of guests cost little
CPU here and the monitor's own codec validates every answer.

Control, one line per command on stdin, one answer line on stdout:

``silence I [I ...]``
    stop answering the challenges of guests I (the agent hangs; the
    socket stays open and is still read); answers ``ok <monotonic>``.
``reset``
    start counting challenge gaps afresh; answers ``ok``.
``stats``
    answers one JSON object: challenges seen, gaps, connections.
``quit``
    exits.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import selectors
import socket
import sys
import time
import typing

from nova_vm_heartbeat import protocol

#: A challenge is late when it follows the previous one by more than the
#: interval plus this many seconds.
LATE_AFTER = 0.25
RESPONSE = ('{"v":%d,"type":"response","seq":%d,"nonce":"%s",'
            '"health":"ok","components":{},"mono":%.3f}\n')


def hello_bytes() -> bytes:
    """0xFF and a ``hello``, made by the real codec."""
    conn = protocol.Connection(protocol.GUEST, clock=time.monotonic)
    return conn.resync() + conn.send(protocol.Hello(
        version=protocol.MAX_VERSION, min_version=protocol.MIN_VERSION,
        agent="simguest", agent_version="1.0", boot_id="sim-boot"))


class Guest:
    """One simulated guest: a listener and at most one connection."""

    __slots__ = ("index", "listener", "conn", "buffer", "version",
                 "silenced", "last_challenge")

    def __init__(self, index: int, listener: socket.socket):
        self.index = index
        self.listener = listener
        self.conn: typing.Optional[socket.socket] = None
        self.buffer = b""
        self.version = protocol.MAX_VERSION
        self.silenced = False
        self.last_challenge: typing.Optional[float] = None


class Guests:
    """Serves every guest of this process on one selector."""

    def __init__(self, directory: str, first: int, count: int,
                 interval: float):
        self.interval = interval
        self.selector = selectors.DefaultSelector()
        self.hello = hello_bytes()
        self.guests = [self._listen(directory, i)
                       for i in range(first, first + count)]
        self.by_index = {g.index: g for g in self.guests}
        self.reset()

    def reset(self) -> None:
        self.challenges = 0
        self.late = 0
        self.max_gap = 0.0
        for guest in self.guests:
            guest.last_challenge = None

    def _listen(self, directory: str, index: int) -> Guest:
        path = os.path.join(directory, "g%d.sock" % index)
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        listener.bind(path)
        listener.listen(4)
        listener.setblocking(False)
        guest = Guest(index, listener)
        self.selector.register(listener, selectors.EVENT_READ,
                               (self._accept, guest))
        return guest

    def _accept(self, guest: Guest) -> None:
        try:
            conn, _ = guest.listener.accept()
        except BlockingIOError:
            return
        if guest.conn is not None:  # like a chardev: one peer at a time
            self._drop(guest)
        conn.setblocking(False)
        guest.conn, guest.buffer = conn, b""
        guest.last_challenge = None
        self.selector.register(conn, selectors.EVENT_READ,
                               (self._read, guest))
        self._send(guest, self.hello)

    def _drop(self, guest: Guest) -> None:
        assert guest.conn is not None
        self.selector.unregister(guest.conn)
        guest.conn.close()
        guest.conn = None

    def _send(self, guest: Guest, data: bytes) -> None:
        try:
            assert guest.conn is not None
            guest.conn.send(data)
        except OSError:
            self._drop(guest)

    def _read(self, guest: Guest) -> None:
        assert guest.conn is not None
        try:
            data = guest.conn.recv(65536)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            self._drop(guest)
            return
        if b"\xff" in data:  # the host resynchronised: hello again
            data = data.rpartition(b"\xff")[2]
            guest.buffer = b""
            guest.last_challenge = None
            self._send(guest, self.hello)
        guest.buffer += data
        *lines, guest.buffer = guest.buffer.split(b"\n")
        for line in lines:
            self._line(guest, line)

    def _line(self, guest: Guest, line: bytes) -> None:
        message = json.loads(line)
        kind = message.get("type")
        if kind == "welcome":
            guest.version = message["v"]
        elif kind == "challenge" and not guest.silenced:
            now = time.monotonic()
            self._count(guest, now)
            self._send(guest, (RESPONSE % (
                guest.version, message["seq"], message["nonce"],
                now)).encode())

    def _count(self, guest: Guest, now: float) -> None:
        self.challenges += 1
        if guest.last_challenge is not None:
            gap = now - guest.last_challenge
            self.max_gap = max(self.max_gap, gap)
            if gap > self.interval + LATE_AFTER:
                self.late += 1
        guest.last_challenge = now

    # -- control --------------------------------------------------------------

    def command(self, line: str) -> typing.Optional[str]:
        words = line.split()
        if not words:
            return None
        if words[0] == "silence":
            for word in words[1:]:
                self.by_index[int(word)].silenced = True
            return "ok %.6f" % time.monotonic()
        if words[0] == "reset":
            self.reset()
            return "ok"
        if words[0] == "stats":
            return json.dumps({
                "challenges": self.challenges, "late": self.late,
                "max_gap": round(self.max_gap, 4),
                "connected": sum(g.conn is not None for g in self.guests)})
        if words[0] == "quit":
            raise SystemExit(0)
        return "error unknown command %r" % words[0]

    def run(self) -> None:
        stdin = sys.stdin.fileno()
        os.set_blocking(stdin, False)
        self.selector.register(stdin, selectors.EVENT_READ, None)
        pending = b""
        print("ready", flush=True)
        while True:
            for key, _ in self.selector.select():
                if key.data is not None:
                    handler, guest = key.data
                    handler(guest)
                    continue
                chunk = os.read(stdin, 4096)
                if not chunk:
                    return
                *commands, pending = (pending + chunk).split(b"\n")
                for command in commands:
                    answer = self.command(command.decode())
                    if answer is not None:
                        print(answer, flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dir", required=True)
    parser.add_argument("--first", type=int, required=True)
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--interval", type=float, default=1.0)
    args = parser.parse_args()
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    Guests(args.dir, args.first, args.count, args.interval).run()


if __name__ == "__main__":
    main()
