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

"""A hostile guest agent, run inside a test guest with its python3.

``python3 -c "$(cat hostile_agent.py)" ATTACK`` takes over the heartbeat port
(the real agent is killed first) and attacks the host forever:

``garbage``
    random bytes, newlines and 0xFF as fast as the port takes them;
``superlinear``
    the worst-case lines of every adversarial family that matters to a
    parser (unterminated strings of escaped quotes, runs of escapes,
    deep nesting, surrogates, unbalanced brackets), each at the line
    limit;
``flood``
    both, in turns: a chunk of garbage, then every worst-case line;
``hello_storm``
    a ``hello`` with a new boot id every few milliseconds, answering the
    challenges in between (each answer makes the host's state machine
    change state: a guest that makes its state flap).

Standard library only: it runs in the guest, not on the host.
"""

import os
import select
import sys
import time

PORT = "/dev/virtio-ports/org.openstack.heartbeat.0"
LINE = 16383


def _superlinear():
    half = LINE // 2
    return [
        b"[" * 9 + b'"' + b'\\"' * ((LINE - 10) // 2),
        b"[" * 9 + b'"' + b"\\" * (LINE - 10),
        b"[" * half + b"]" * half,
        b'{"v":1,"type":"bye","reason":"' + b"\\ud800" * ((LINE - 40) // 6)
        + b'"}',
        b"]" + b"[]" * (half - 1),
        b'["' * half,
        b'{"v":1,"type":"' + b"\\u00e9" * ((LINE - 20) // 6),
    ]


def _write_all(fd, data):
    while data:
        _, ready, _ = select.select([], [fd], [], 1.0)
        if ready:
            data = data[os.write(fd, data):]


def garbage(fd):
    while True:
        chunk = bytearray(os.urandom(8192))
        for i in range(0, len(chunk), 97):
            chunk[i] = 0x0A
        _write_all(fd, bytes(chunk) + b"\xff")


def superlinear(fd):
    lines = [line + b"\n" for line in _superlinear()]
    while True:
        for line in lines:
            _write_all(fd, line)


def flood(fd):
    lines = [line + b"\n" for line in _superlinear()]
    while True:
        _write_all(fd, os.urandom(8192).replace(b"\x00", b"\n") + b"\xff")
        for line in lines:
            _write_all(fd, line)


def _answers(buffered):
    """Responses to the challenges in ``buffered``; what is left of it."""
    out = []
    *lines, rest = buffered.split(b"\n")
    for line in lines:
        if b'"challenge"' not in line:
            continue
        seq = line.split(b'"seq":')[1].split(b",")[0].split(b"}")[0]
        nonce = line.split(b'"nonce":"')[1].split(b'"')[0]
        out.append(b'{"v":1,"type":"response","seq":%s,"nonce":"%s",'
                   b'"health":"ok","mono":%.3f}\n'
                   % (seq, nonce, time.monotonic()))
    return out, rest[-65536:]


def hello_storm(fd):
    buffered, boot = b"", 0
    while True:
        boot += 1
        _write_all(fd, b'{"v":1,"type":"hello","min_v":1,"agent":"storm",'
                   b'"agent_version":"1","boot_id":"storm-%d"}\n' % boot)
        readable, _, _ = select.select([fd], [], [], 0.005)
        if readable:
            buffered += os.read(fd, 65536).replace(b"\xff", b"")
            answers, buffered = _answers(buffered)
            for answer in answers:
                _write_all(fd, answer)


def main():
    fd = os.open(PORT, os.O_RDWR | os.O_NONBLOCK)
    {"garbage": garbage, "superlinear": superlinear, "flood": flood,
     "hello_storm": hello_storm}[sys.argv[1]](fd)


if __name__ == "__main__":
    main()
