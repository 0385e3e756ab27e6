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

"""A hostile guest: floods, sends garbage, and reconnects in a loop.

Run as ``python -m tests.functional.runtime.hostile PORT_PATH SECONDS``.
It plays a guest agent gone wrong on the guest end of a
:class:`~tests.functional.runtime.relay.ChardevRelay`.
"""

from __future__ import annotations

import os
import socket
import sys
import time

HELLO = (b'{"v":1,"type":"hello","min_v":1,"agent":"evil",'
         b'"agent_version":"6.6.6"}\n')
REPORT = b'{"v":1,"type":"report","health":"ok"}\n'
BURSTS = [
    b"\xff" + HELLO,
    REPORT * 500,                          # over the rate limit
    b"x" * 100000 + b"\n",                 # a line far too long
    b'{"v":1,"type":"response","seq":1}\n' * 200,   # invalid fields
    b"\xff" * 1000,                        # resync storm
    b"[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]\n" * 100,
    b"\xc3\x28 not utf-8\n" * 300,
    b"\n" * 5000,                          # keep-alives
]


def flood(path: str, deadline: float) -> None:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.settimeout(0.5)
        sock.connect(path)
        until = min(deadline, time.monotonic() + 0.3)
        while time.monotonic() < until:
            for burst in BURSTS:
                sock.sendall(burst)
            sock.sendall(os.urandom(4096))
    except OSError:
        time.sleep(0.05)
    finally:
        sock.close()


def main() -> None:
    path, seconds = sys.argv[1], float(sys.argv[2])
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        flood(path, deadline)


if __name__ == "__main__":
    main()
