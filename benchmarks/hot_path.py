#!/usr/bin/env python3
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

"""The monitor's CPU per heartbeat, in one process, on a simulated clock.

``scale.py`` measures the monitor as a host runs it, and so with the
machine's noise: on a shared 2-core machine two runs of the same code can
differ by more than a change being measured. This measures only the hot
path, the same way every time: the real reactor, heartbeat channels,
sessions and fleet over real UNIX sockets, with in-process guests that
answer every challenge at once, and a clock that moves 1 s a round. Each
round ticks every instance (a challenge each), lets the guests answer, and
reads the answers; only the monitor's own calls are timed (this thread's
CPU time, system calls included), and the first rounds are left out.

Run from the top of the tree (``PYTHONPATH`` picks the tree measured)::

    PYTHONPATH=. .venv/bin/python benchmarks/hot_path.py [--instances 500]
        [--rounds 40]

Prints the microseconds of monitor CPU per heartbeat and one JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import sys
import tempfile
import time
import typing

from nova_vm_heartbeat.monitor.policy import Settings
from nova_vm_heartbeat import protocol
from nova_vm_heartbeat.runtime.channel import HeartbeatChannel
from nova_vm_heartbeat.runtime.fleet import Fleet
from nova_vm_heartbeat.runtime.options import RuntimeOptions
from nova_vm_heartbeat.runtime.reactor import Reactor
from nova_vm_heartbeat.sources.base import InstanceInfo

SETTINGS = Settings(interval=1.0, timeout=0.5, failure_threshold=3)
#: Rounds left out of the figure: the handshakes and the first challenges.
WARMUP = 10
RESPONSE = ('{"v":%d,"type":"response","seq":%d,"nonce":"%s",'
            '"health":"ok","components":{},"mono":1.0}\n')


class Clock:
    """A clock that moves only when told to."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Effects:
    """Real heartbeat channels; nothing else happens on this path."""

    def __init__(self, reactor: Reactor, options: RuntimeOptions):
        self.reactor = reactor
        self.options = options

    def open_channel(self, info: InstanceInfo, terms: typing.Any,
                     deliver: typing.Any) -> HeartbeatChannel:
        assert info.heartbeat_socket is not None
        return HeartbeatChannel(
            self.reactor, info.uuid, info.domain_name, info.heartbeat_socket,
            terms, limits=self.options.limits,
            read_budget=self.options.read_budget,
            reconnect_max=self.options.reconnect_max, deliver=deliver)

    def sync_agent(self, uuid: str, seq: int, timeout: float) -> None:
        pass

    def report(self, info: InstanceInfo, verdict: typing.Any,
               state: str) -> None:
        pass

    def forget(self, uuid: str) -> None:
        pass

    def sample_stats(self, uuid: str) -> None:
        pass


def hello() -> bytes:
    conn = protocol.Connection(protocol.GUEST, clock=time.monotonic)
    return conn.resync() + conn.send(protocol.Hello(
        version=protocol.MAX_VERSION, min_version=protocol.MIN_VERSION,
        agent="hot-path", agent_version="1", boot_id="b"))


def answer(guests: typing.List[socket.socket]) -> None:
    """Each guest answers the challenges it was sent."""
    for guest in guests:
        try:
            data = guest.recv(65536)
        except BlockingIOError:
            continue
        replies = []
        for line in data.replace(b"\xff", b"").split(b"\n"):
            message = json.loads(line) if line.strip() else {}
            if message.get("type") == "challenge":
                replies.append(RESPONSE % (message["v"], message["seq"],
                                           message["nonce"]))
        if replies:
            guest.sendall("".join(replies).encode())


def measure(count: int, rounds: int,
            directory: str) -> typing.Dict[str, typing.Any]:
    clock = Clock()
    reactor = Reactor(clock)
    options = RuntimeOptions(host="bench", defaults=SETTINGS)
    listeners, infos = [], []
    for index in range(count):
        path = os.path.join(directory, "g%d.sock" % index)
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        listener.bind(path)
        listener.listen(1)
        listeners.append(listener)
        infos.append(InstanceInfo(
            uuid="00000000-0000-4000-8000-%012d" % index,
            domain_name="instance-%08x" % index, settings=SETTINGS,
            heartbeat_socket=path, uptime=3600.0))
    fleet = Fleet(options, Effects(reactor, options), clock)
    fleet.apply(infos, clock.now, clock.now)  # connects every channel
    guests = [listener.accept()[0] for listener in listeners]
    for guest in guests:
        guest.setblocking(False)
        guest.sendall(hello())
    spent = 0.0
    for round_number in range(rounds):
        clock.now += 1.0
        began = time.thread_time()
        fleet.run_due(clock.now)  # a challenge to each instance
        reactor.run_once(clock.now)
        sent = time.thread_time()
        answer(guests)
        answered = time.thread_time()
        reactor.run_once(clock.now)  # the answers
        if round_number >= WARMUP:
            spent += (sent - began) + (time.thread_time() - answered)
    snapshot = fleet.snapshot()
    fleet.close()
    reactor.close()
    for sock in guests + listeners:
        sock.close()
    beats = count * (rounds - WARMUP)
    return {"instances": count, "rounds": rounds,
            "us_per_heartbeat": round(1e6 * spent / beats, 1),
            "missed": snapshot.missed, "states": snapshot.states,
            "load_average": os.getloadavg()}


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--instances", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=40)
    args = parser.parse_args()
    if args.rounds <= WARMUP:
        parser.error("--rounds must be above %d" % WARMUP)
    directory = tempfile.mkdtemp(prefix="hb-hot-", dir="/tmp")
    try:
        result = measure(args.instances, args.rounds, directory)
    finally:
        shutil.rmtree(directory, ignore_errors=True)
    print("%(instances)d instances: %(us_per_heartbeat).1f us of monitor "
          "CPU per heartbeat (missed %(missed)d)" % result)
    print(json.dumps(dict(result, benchmark="hot_path")))
    healthy = result["states"].get("healthy", 0)
    return 0 if healthy == args.instances and not result["missed"] else 1


if __name__ == "__main__":
    sys.exit(main())
