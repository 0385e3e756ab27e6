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
host prepared and the guest image built as for the hypervisor test tier),
each with our heartbeat channel and the QGA channel, our agent inside,
interval 1 s (their ``<hb:heartbeat>``). Then, for each source tree
(``--code NAME=DIR``, e.g. main's code before a change and the working
tree after it, measured on the same guests one after the other) and each
channel mix, it runs ``nova-vm-heartbeat-monitor`` (through
``own_monitor.py``: only these guests, noop sink) using

* ``heartbeat``: our heartbeat channel only;
* ``qga``: the QGA channel only, so QGA is the instance's heartbeat;
* ``both``: both channels, our agent answering (the common case);

and measures, from ``/proc/<pid>/task/*/schedstat`` (run time, to the
nanosecond, rather than ``stat``'s 10 ms ticks):

* the monitor's CPU over ``--window`` seconds;
* libvirtd's CPU over the same window with the monitor running and,
  right after, with the monitor stopped (SIGSTOP) while the same guests
  run. libvirtd is shared with whatever else runs on the host, so only
  the difference (on minus off, ``--rounds`` pairs, the median) is
  counted as the monitor's.

The fixed cost is the monitor's CPU with no instance. Per instance per
second is (monitor CPU share - fixed) / guests. It prints a table and
writes every figure to ``--json`` (``build/benchmarks/host_cost.json``
by default, the last tree's figures at the top level), which
``scale.py --host-cost`` reads for its projection::

    git archive main | tar -x -C /tmp/main
    .venv/bin/python benchmarks/host_cost.py --code before=/tmp/main \\
        --code after=.
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

#: The channel mixes (own_monitor.py --channels).
MIXES = ("heartbeat", "qga", "both")
#: Seconds after SIGCONT before a window starts (the loop catches up).
RESUME_SETTLE = 2.0
#: Our domains' names begin so; the monitor watches no other domain.
PREFIX = "issue15-"


class OwnMonitor(mon.MonitorProcess):
    """The monitor, watching only the benchmark's domains (own_monitor)."""

    def __init__(self, *args: typing.Any, prefix: str, channels: str,
                 **kwargs: typing.Any):
        super().__init__(*args, **kwargs)
        self.prefix = prefix
        self.channels = channels

    def start(self) -> "OwnMonitor":
        assert self.process is None, "already started"
        with self.log_path.open("ab") as log:
            self._log_offset = log.tell()
            self.process = subprocess.Popen(
                [sys.executable, str(TOP / "benchmarks" / "own_monitor.py"),
                 "--prefix", self.prefix, "--channels", self.channels,
                 "--config-file", str(self.config)],
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


def _tasks(pid: int) -> typing.List[str]:
    try:
        return os.listdir("/proc/%d/task" % pid)
    except OSError:
        return []


def cpu(pid: int) -> float:
    """CPU seconds of every thread of ``pid``, to the nanosecond.

    ``schedstat``'s run time rather than ``stat``'s utime and stime,
    which count 10 ms ticks: at a few milliseconds a second per guest, a
    window of ticks says little. Threads that ended are not counted
    (the monitor's live for the whole run); without ``schedstat``, ticks.
    """
    total = 0.0
    for task in _tasks(pid):
        try:
            with open("/proc/%d/task/%s/schedstat" % (pid, task)) as stat:
                total += int(stat.read().split()[0]) / 1e9
        except FileNotFoundError:
            continue  # the thread ended
        except OSError:
            return sum(cpu_seconds(pid))
    return total


def wakeups(pid: int) -> int:
    """How often the threads of ``pid`` slept and were woken, in all.

    Voluntary context switches since each thread started.
    """
    total = 0
    for task in _tasks(pid):
        try:
            with open("/proc/%d/task/%s/status" % (pid, task)) as status:
                for line in status:
                    if line.startswith("voluntary_ctxt_switches:"):
                        total += int(line.split()[1])
        except OSError:
            continue
    return total


def window(pids: typing.Sequence[int], seconds: float) -> typing.List[float]:
    """CPU share of one core of each of ``pids`` over ``seconds``."""
    return window_with_wakeups(pids, seconds)[0]


def window_with_wakeups(pids: typing.Sequence[int], seconds: float
                        ) -> typing.Tuple[typing.List[float], float]:
    """:func:`window`, and the first pid's wakeups per second."""
    before = [cpu(pid) for pid in pids]
    woken = wakeups(pids[0])
    started = time.monotonic()
    time.sleep(seconds)
    wall = time.monotonic() - started
    rate = (wakeups(pids[0]) - woken) / wall
    return [(cpu(pid) - was) / wall for pid, was in zip(pids, before)], rate


class Spec(typing.NamedTuple):
    uuid: str
    heartbeat_channel: bool = True


class Adopted(typing.NamedTuple):
    """A guest an earlier run booted (what ``Lab.wait_healthy`` reads)."""

    name: str
    spec: Spec

    def console(self) -> str:
        return ""


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
        self.guests: typing.List[guests_.Guest] = []

    def monitor(self, code: str, channels: str,
                prefix: str = PREFIX) -> OwnMonitor:
        self.count += 1
        directory = self.workdir / ("monitor-%d" % self.count)
        directory.mkdir()
        os.environ["PYTHONPATH"] = code
        return OwnMonitor(directory, "rabbit://unused:5672/", options={
            "DEFAULT": {"debug": False},
            "heartbeat_admin": {"socket_path": directory / "admin.sock"},
            "heartbeat_sink": {"driver": "noop"}},
            prefix=prefix, channels=channels).start()

    def adopt(self) -> None:
        """Use the running ``PREFIX*`` domains (booted by an earlier run)."""
        names = []
        for domain in self.connection.get().listAllDomains():
            if domain.name().startswith(PREFIX) and domain.isActive():
                names.append(domain.name())
                self.guests.append(typing.cast(guests_.Guest, Adopted(
                    domain.name(), Spec(domain.UUIDString()))))
        say("adopted %d running guests: %s" % (len(names), names))

    def boot(self) -> None:
        if self.args.adopt:
            self.adopt()
            return
        say("booting %d guests" % self.args.guests)
        self.guests = [self.starter(name="%sg%d" % (PREFIX, i),
                                    display_name="host-cost")
                       for i in range(self.args.guests)]

    def refresh(self, calls: int = 50) -> typing.Dict[str, typing.Any]:
        """What one look at the host's domains costs, per domain.

        The standalone monitor's instance source looks at the domains
        every ``refresh_interval`` (10 s): the domains and the running
        ones, each domain's XML when it restarted or a minute went by,
        its QEMU's start time once. Timed in this process with this
        tree's source (``--code`` does not change it), with libvirtd's
        CPU over the same calls (which also counts what the guests made
        it do meanwhile).
        """
        from nova_vm_heartbeat.monitor.policy import Settings
        from nova_vm_heartbeat.sources import impl_libvirt
        source = impl_libvirt.LibvirtSource("qemu:///system", Settings())
        try:
            domains = len(source.instances())  # connects, fills the cache
            libvirtd, own = cpu(self.libvirtd), time.thread_time()
            for _ in range(calls):
                source.instances()
            own = time.thread_time() - own
            libvirtd = cpu(self.libvirtd) - libvirtd
        finally:
            source.close()
        return {"domains": domains, "calls": calls,
                "monitor_ms_per_domain": round(
                    1000 * own / calls / max(1, domains), 4),
                "libvirtd_ms_per_domain": round(
                    1000 * libvirtd / calls / max(1, domains), 4)}

    def fixed(self, code: str) -> float:
        monitor = self.monitor(code, "both", prefix="no-such-domain-")
        assert monitor.process is not None
        try:
            time.sleep(RESUME_SETTLE)
            shares = [window([monitor.process.pid], self.args.window)[0]
                      for _ in range(self.args.rounds)]
        finally:
            monitor.stop()
        return statistics.median(shares)

    def mix(self, code: str, name: str,
            fixed: float) -> typing.Dict[str, typing.Any]:
        monitor = self.monitor(code, name)
        try:
            watcher = lab_.Lab(monitor, None)  # type: ignore[arg-type]
            for guest in self.guests:
                watcher.wait_healthy(guest, 0, timeout=self.args.boot_timeout,
                                     hello=name != "qga")
            time.sleep(self.args.settle)
            return self._measure(name, monitor, fixed)
        finally:
            monitor.stop()

    def _measure(self, name: str, monitor: OwnMonitor,
                 fixed: float) -> typing.Dict[str, typing.Any]:
        assert monitor.process is not None
        pid = monitor.process.pid
        on_mon, on_lv, off_lv, woken = [], [], [], []
        for number in range(self.args.rounds):
            (mon_share, lv_share), rate = window_with_wakeups(
                [pid, self.libvirtd], self.args.window)
            woken.append(rate)
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
        n = len(self.guests)
        monitor_share = statistics.median(on_mon)
        wakeup_rate = statistics.median(woken)
        libvirtd_added = statistics.median(
            [a - b for a, b in zip(on_lv, off_lv)])
        return {"mix": name, "guests": n,
                "monitor_share": round(monitor_share, 5),
                "monitor_windows": [round(x, 5) for x in on_mon],
                "libvirtd_on": [round(x, 5) for x in on_lv],
                "libvirtd_off": [round(x, 5) for x in off_lv],
                "libvirtd_added_share": round(libvirtd_added, 5),
                "monitor_ms_per_instance_s": round(
                    1000 * (monitor_share - fixed) / n, 4),
                "libvirtd_ms_per_instance_s": round(
                    1000 * libvirtd_added / n, 4),
                # Each wakeup of an idle thread costs far more than the
                # work it does when there is little (cold caches): with
                # few guests, most of the cost per instance is wakeups.
                "monitor_wakeups_per_instance_s": round(wakeup_rate / n, 2),
                "monitor_us_per_wakeup": round(
                    1e6 * monitor_share / wakeup_rate, 1)
                if wakeup_rate else None,
                "load_average": os.getloadavg()}

    def close(self) -> None:
        self.starter.remove_all(consoles=False)
        self.connection.close()


def table(code: str, fixed: float,
          results: typing.List[typing.Dict[str, typing.Any]]) -> None:
    print("%s: fixed cost (monitor, no instance): %.3f%% of one core"
          % (code, 100 * fixed))
    print("%-10s %6s %18s %19s %17s %10s %6s" % (
        "mix", "guests", "monitor ms/inst/s", "libvirtd ms/inst/s",
        "wakeups/inst/s", "us/wakeup", "load"))
    for r in results:
        print("%-10s %6d %18.3f %19.3f %17.2f %10.1f %6.2f" % (
            r["mix"], r["guests"], r["monitor_ms_per_instance_s"],
            r["libvirtd_ms_per_instance_s"],
            r["monitor_wakeups_per_instance_s"],
            r["monitor_us_per_wakeup"] or 0.0, r["load_average"][0]))


def main(argv: typing.Optional[typing.Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--guests", type=int, default=6)
    parser.add_argument("--boot-timeout", type=float, default=600.0,
                        help="seconds for the guests to boot and be "
                        "judged healthy (TCG on a loaded host is slow)")
    parser.add_argument("--window", type=float, default=20.0)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--settle", type=float, default=3.0)
    parser.add_argument("--mixes", nargs="*", default=list(MIXES))
    parser.add_argument("--adopt", action="store_true",
                        help="measure the running %s* domains instead of "
                        "booting guests (left running)" % PREFIX)
    parser.add_argument("--code", action="append", default=[],
                        metavar="NAME=DIR",
                        help="a source tree to measure (default: this one)")
    parser.add_argument("--json", default=str(
        TOP / "build" / "benchmarks" / "host_cost.json"))
    args = parser.parse_args(argv)
    codes = [tuple(c.split("=", 1)) for c in args.code] or [("this", ".")]
    host.prepare()
    load = os.getloadavg()
    trees: typing.Dict[str, typing.Dict[str, typing.Any]] = {}
    with host.workdir("hb-cost-") as workdir:
        run = Run(args, workdir)
        try:
            run.boot()
            refresh = run.refresh()
            say("one look at the domains: %(monitor_ms_per_domain).3f ms "
                "here and %(libvirtd_ms_per_domain).3f ms in libvirtd per "
                "domain (%(domains)d domains, %(calls)d looks)" % refresh)
            for name, tree in codes:
                code = os.path.abspath(tree)
                fixed = run.fixed(code)
                results = [run.mix(code, mix, fixed) for mix in args.mixes]
                trees[name] = {"code": code, "fixed_monitor_share": fixed,
                               "results": results}
                table(name, fixed, results)
        finally:
            run.close()
    figures = dict(trees[codes[-1][0]], benchmark="host_cost",
                   refresh=refresh,
                   interval_s=1.0, window_s=args.window,
                   rounds=args.rounds, trees=trees,
                   load_average_before=load,
                   load_average_after=os.getloadavg())
    path = pathlib.Path(args.json)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(figures, indent=1, sort_keys=True))
    print(json.dumps(figures, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
