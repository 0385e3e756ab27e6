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

"""The monitor process of benchmarks/scale.py, seen from outside.

Starts ``monitored.py``, reads its verdict lines on a thread, asks its
admin socket for telemetry, and reads its CPU time and peak RSS from
``/proc``: everything is measured on the monitor's process alone.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import threading
import time
import typing

from nova_vm_heartbeat.admin import client
from nova_vm_heartbeat import exception

HERE = os.path.dirname(os.path.abspath(__file__))
TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> typing.Tuple[float, float]:
    """User and system CPU seconds of process ``pid``."""
    with open("/proc/%d/stat" % pid) as stat:
        fields = stat.read().rpartition(")")[2].split()
    # utime and stime are fields 14 and 15 of proc(5); 12 and 13 here.
    return int(fields[11]) / TICKS, int(fields[12]) / TICKS


def run_dir() -> str:
    """A short directory for sockets (UNIX socket paths are short)."""
    return "/tmp"


class MonitorProcess:
    """The monitor under test."""

    def __init__(self, directory: str, count: int, args: argparse.Namespace):
        self.admin = os.path.join(directory, "admin.sock")
        command = [sys.executable, os.path.join(HERE, "monitored.py"),
                   "--dir", directory, "--count", str(count),
                   "--interval", str(args.interval),
                   "--timeout", str(args.timeout),
                   "--threshold", str(args.threshold),
                   "--admin", self.admin]
        if args.metrics_port:
            command += ["--metrics-port", str(args.metrics_port)]
        self.stderr = open(os.path.join(directory, "monitor.log"), "w+")
        self.proc = subprocess.Popen(command, stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE,
                                     stderr=self.stderr, text=True)
        #: (monotonic, uuid, event type, fault class), as reported.
        self.verdicts: typing.List[typing.Tuple[float, str, str, str]] = []
        #: uuid -> when its first heartbeat_lost was reported.
        self.lost: typing.Dict[str, float] = {}
        #: uuids silenced on purpose.
        self.silenced: typing.Set[str] = set()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    @staticmethod
    def uuid_of(index: int) -> str:
        return "00000000-0000-4000-8000-%012d" % index

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for text in self.proc.stdout:
            words = text.split()
            if len(words) != 5 or words[0] != "verdict":
                continue
            at, uuid, event, fault = float(words[1]), *words[2:]
            self.verdicts.append((at, uuid, event, fault))
            if event == "instance.heartbeat_lost":
                self.lost.setdefault(uuid, at)

    def telemetry(self) -> typing.Dict[str, typing.Any]:
        return client.ask(self.admin, "telemetry", 30.0)

    def status_seconds(self) -> float:
        """How long ``nova-vm-heartbeat status`` waits for its answer."""
        began = time.monotonic()
        client.ask(self.admin, "status", 60.0)
        return time.monotonic() - began

    def wait_healthy(self, count: int, timeout: float) -> float:
        """Wait until all ``count`` instances are healthy; seconds taken."""
        began = time.monotonic()
        healthy = 0
        while time.monotonic() - began < timeout:
            if self.proc.poll() is not None:
                raise RuntimeError("the monitor exited: %s" % self.log())
            try:
                healthy = self.telemetry()["states"].get("healthy", 0)
            except exception.AdminUnavailable:
                healthy = 0
            if healthy == count:
                return time.monotonic() - began
            time.sleep(0.5)
        raise RuntimeError("only %d of %d instances healthy after %g s"
                           % (healthy, count, timeout))

    def cpu_seconds(self) -> typing.Tuple[float, float]:
        """User and system CPU seconds of the monitor process."""
        return cpu_seconds(self.proc.pid)

    def peak_rss_kib(self) -> int:
        with open("/proc/%d/status" % self.proc.pid) as status:
            for text in status:
                if text.startswith("VmHWM:"):
                    return int(text.split()[1])
        return 0

    def log(self) -> str:
        self.stderr.seek(0)
        return self.stderr.read()[-3000:]

    def stop(self) -> None:
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.stderr.close()
