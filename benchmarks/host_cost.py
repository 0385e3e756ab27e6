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

"""What a host really pays per monitored instance, on real TCG guests.

Boots ``--guests`` real TCG guests on qemu:///system (run as root; the
host prepared and the guest image built as for the hypervisor test tier)
for each channel mix:

* ``heartbeat``: our heartbeat channel only (no QGA channel in the XML);
* ``qga``: the QGA channel only, so QGA is the instance's heartbeat;
* ``both``: both channels, our agent answering (the common case);

and runs ``nova-vm-heartbeat-monitor`` (noop sink, interval 1 s from the
guests' ``<hb:heartbeat>``) against them. Then it measures, from
``/proc/<pid>/stat`` (utime + stime):

* the monitor's CPU over ``--window`` seconds;
* libvirtd's CPU over the same window with the monitor running and,
  alternately, with the monitor stopped (SIGSTOP) while the same guests
  run. libvirtd is shared with whatever else runs on the host, so only
  the difference (on minus off, ``--rounds`` pairs, the median) is
  counted as the monitor's.

The fixed cost is the monitor's CPU with no guest at all. Per instance
per second is (monitor CPU share - fixed) / guests. It prints a table
and writes every figure to ``--json`` (``build/benchmarks/host_cost.json``
by default), which ``scale.py --host-cost`` reads for its projection.

``--code DIR`` runs the monitor from another source tree (e.g. ``git
archive main | tar -x -C /tmp/main``), to measure before and after::

    .venv/bin/python benchmarks/host_cost.py --code /tmp/main \\
        --json build/benchmarks/host_cost-before.json
    .venv/bin/python benchmarks/host_cost.py
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import signal
import statistics
import subprocess
import sys
import time
import typing

TOP = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(TOP))
sys.path.insert(0, str(TOP / "benchmarks"))

from monitor_process import cpu_seconds  # noqa: E402
from tests.functional.hypervisor import conftest  # noqa: E402
from tests.functional.hypervisor import guests as guests_  # noqa: E402
from tests.functional.hypervisor import host  # noqa: E402
from tests.functional.hypervisor import lab as lab_  # noqa: E402
from tests.functional.hypervisor import monitor as mon  # noqa: E402

#: The channel mixes: (heartbeat channel, QGA channel).
MIXES = {"heartbeat": (True, False), "qga": (False, True),
         "both": (True, True)}
#: Seconds after SIGCONT before a window starts (the loop catches up).
RESUME_SETTLE = 2.0
#: Our domains' names begin so; the monitor watches no other domain.
PREFIX = "issue15-"


class OwnMonitor(mon.MonitorProcess):
    """The monitor, watching only the benchmark's domains (own_monitor)."""

    def start(self) -> "OwnMonitor":
        assert self.process is None, "already started"
        with self.log_path.open("ab") as log:
            self._log_offset = log.tell()
            self.process = subprocess.Popen(
                [sys.executable, str(TOP / "benchmarks" / "own_monitor.py"),
                 "--prefix", PREFIX, "--config-file", str(self.config)],
                stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + mon.START_TIMEOUT
        while mon.STARTED not in self.log(since_start=True):
            if self.process.poll() is not None or \
                    time.monotonic() > deadline:
                raise RuntimeError("the monitor did not start:\n%s"
                                   % self.log())
            time.sleep(0.1)
        return self


def say(message: str) -> None:
    print("==> %s" % message, file=sys.stderr, flush=True)


def libvirtd_pid() -> int:
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open("/proc/%s/comm" % entry) as comm:
                    if comm.read().strip() == "libvirtd":
                        return int(entry)
            except OSError:
                continue
    raise RuntimeError("libvirtd does not run")


def cpu(pid: int) -> float:
    return sum(cpu_seconds(pid))


def window(pids: typing.Sequence[int], seconds: float) -> typing.List[float]:
    """CPU share of one core of each of ``pids`` over ``seconds``."""
    before = [cpu(pid) for pid in pids]
    started = time.monotonic()
    time.sleep(seconds)
    wall = time.monotonic() - started
    return [(cpu(pid) - was) / wall for pid, was in zip(pids, before)]


class Run:
    def __init__(self, args: argparse.Namespace, workdir: pathlib.Path):
        self.args = args
        self.workdir = workdir
        self.libvirtd = libvirtd_pid()
        modules = guests_.import_libvirt()
        self.connection = guests_.Connection(modules)
        image = host.install_image(host.cached_image(), workdir / "image")
        self.starter = conftest.GuestStarter(modules, self.connection,
                                             image, workdir)
        self.count = 0

    def monitor(self) -> OwnMonitor:
        self.count += 1
        directory = self.workdir / ("monitor-%d" % self.count)
        directory.mkdir()
        return OwnMonitor(directory, "rabbit://unused:5672/", options={
            "DEFAULT": {"debug": False},
            "heartbeat_admin": {"socket_path": directory / "admin.sock"},
            "heartbeat_sink": {"driver": "noop"}}).start()

    def fixed(self) -> typing.Dict[str, float]:
        monitor = self.monitor()
        assert monitor.process is not None
        try:
            time.sleep(RESUME_SETTLE)
            shares = [window([monitor.process.pid], self.args.window)[0]
                      for _ in range(self.args.rounds)]
        finally:
            monitor.stop()
        return {"monitor_share": statistics.median(shares)}

    def mix(self, name: str, fixed: float) -> typing.Dict[str, typing.Any]:
        heartbeat, qga = MIXES[name]
        say("%s: booting %d guests" % (name, self.args.guests))
        started = [self.starter(name="%s%s-%d" % (PREFIX, name, i),
                                display_name="host-cost",
                                heartbeat_channel=heartbeat,
                                qga_channel=qga)
                   for i in range(self.args.guests)]
        monitor = self.monitor()
        try:
            watcher = lab_.Lab(monitor, None)  # type: ignore[arg-type]
            for guest in started:
                watcher.wait_healthy(guest, 0, timeout=self.args.boot_timeout,
                                     hello=True)
            time.sleep(self.args.settle)
            return self._measure(name, monitor, fixed)
        finally:
            monitor.stop()
            self.starter.remove_all(consoles=False)

    def _measure(self, name: str, monitor: mon.MonitorProcess,
                 fixed: float) -> typing.Dict[str, typing.Any]:
        assert monitor.process is not None
        pid = monitor.process.pid
        on_mon, on_lv, off_lv = [], [], []
        for number in range(self.args.rounds):
            mon_share, lv_share = window([pid, self.libvirtd],
                                         self.args.window)
            on_mon.append(mon_share)
            on_lv.append(lv_share)
            os.kill(pid, signal.SIGSTOP)
            try:
                time.sleep(RESUME_SETTLE)
                off_lv.append(window([self.libvirtd], self.args.window)[0])
            finally:
                os.kill(pid, signal.SIGCONT)
            time.sleep(RESUME_SETTLE)
            say("%s round %d: monitor %.2f%%, libvirtd on %.2f%% off %.2f%%"
                " (load %s)" % (name, number + 1, 100 * mon_share,
                                100 * lv_share, 100 * off_lv[-1],
                                os.getloadavg()))
        n = self.args.guests
        monitor_share = statistics.median(on_mon)
        libvirtd_added = statistics.median(
            [a - b for a, b in zip(on_lv, off_lv)])
        return {"mix": name, "guests": n,
                "monitor_share": round(monitor_share, 5),
                "libvirtd_on": [round(x, 5) for x in on_lv],
                "libvirtd_off": [round(x, 5) for x in off_lv],
                "libvirtd_added_share": round(libvirtd_added, 5),
                "monitor_ms_per_instance_s": round(
                    1000 * (monitor_share - fixed) / n, 4),
                "libvirtd_ms_per_instance_s": round(
                    1000 * libvirtd_added / n, 4),
                "load_average": os.getloadavg()}

    def close(self) -> None:
        self.starter.remove_all(consoles=False)
        self.connection.close()


def table(fixed: float, results: typing.List[typing.Dict[str, typing.Any]]
          ) -> None:
    print("fixed cost (monitor, no instance): %.3f%% of one core"
          % (100 * fixed))
    print("%-10s %6s %16s %16s %12s" % (
        "mix", "guests", "monitor ms/inst/s", "libvirtd ms/inst/s",
        "load"))
    for r in results:
        print("%-10s %6d %16.3f %16.3f %12s" % (
            r["mix"], r["guests"], r["monitor_ms_per_instance_s"],
            r["libvirtd_ms_per_instance_s"],
            "%.2f" % r["load_average"][0]))


def main(argv: typing.Optional[typing.Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--guests", type=int, default=4)
    parser.add_argument("--boot-timeout", type=float, default=300.0,
                        help="seconds for the guests to boot and be "
                        "judged healthy (TCG on a loaded host is slow)")
    parser.add_argument("--window", type=float, default=15.0)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--settle", type=float, default=5.0)
    parser.add_argument("--mixes", nargs="*", default=list(MIXES))
    parser.add_argument("--code", help="run the monitor from this tree")
    parser.add_argument("--json", default=str(
        TOP / "build" / "benchmarks" / "host_cost.json"))
    args = parser.parse_args(argv)
    if args.code:
        os.environ["PYTHONPATH"] = os.path.abspath(args.code)
    host.prepare()
    load = os.getloadavg()
    with host.workdir("hb-cost-") as workdir:
        run = Run(args, workdir)
        try:
            fixed = run.fixed()["monitor_share"]
            results = [run.mix(name, fixed) for name in args.mixes]
        finally:
            run.close()
    table(fixed, results)
    figures = {"benchmark": "host_cost", "code": args.code or str(TOP),
               "interval_s": 1.0, "window_s": args.window,
               "rounds": args.rounds, "fixed_monitor_share": fixed,
               "load_average_before": load,
               "load_average_after": os.getloadavg(),
               "results": results}
    path = pathlib.Path(args.json)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(figures, indent=1, sort_keys=True))
    print(json.dumps(figures, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
