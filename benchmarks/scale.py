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

"""How the monitor scales: CPU, memory, deadlines and detection at N guests.

For each N, this starts the real monitor in a process of its own
(``monitored.py``) and N simulated guests in a few other processes
(``simguests.py``): real UNIX sockets, the real protocol, the guests
listening and the monitor connecting, as with QEMU. Then:

1. it waits until every instance is healthy (through the admin socket);
2. over a steady window it measures the monitor process alone: CPU time
   as a share of one core (``/proc/<pid>/stat``), and afterwards its peak
   RSS (``VmHWM``);
3. it counts missed deadlines: challenges the guests received later than
   interval + 0.25 s after the previous one, challenges the monitor
   counted as unanswered although every guest answered, and verdicts
   about guests that were never silenced;
4. it silences a sample of guests, one at a time at random moments, and
   measures how long each takes to be reported (``heartbeat_lost``),
   against the target interval x threshold + 0.5 s;
5. it times one ``status`` question over the admin socket.

One line per N on stdout, then a projection for 1,000 real instances from
the per-instance costs ``host_cost.py`` measured on real guests (its JSON,
``--host-cost``; skipped when there is none), then one JSON line with
every figure and the machine's conditions. ``--smoke`` runs a small N
with short windows (CI).
Run from the top of the tree::

    .venv/bin/python benchmarks/scale.py 100 1000 10000
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import typing

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from monitor_process import cpu_seconds  # noqa: E402
from monitor_process import MonitorProcess  # noqa: E402
from monitor_process import run_dir  # noqa: E402

#: Guests served by one simulator process at most (two processes at least).
GUESTS_PER_PROCESS = 2500


class GuestProcesses:
    """The simulated guests, in a few processes."""

    def __init__(self, directory: str, count: int, interval: float):
        self.procs: typing.List[typing.Tuple[int, subprocess.Popen[str]]] = []
        processes = max(min(2, count), -(-count // GUESTS_PER_PROCESS))
        per = -(-count // processes)
        for first in range(0, count, per):
            proc = subprocess.Popen(
                [sys.executable, os.path.join(HERE, "simguests.py"),
                 "--dir", directory, "--first", str(first), "--count",
                 str(min(per, count - first)), "--interval", str(interval)],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
            self.procs.append((first, proc))
        for _, proc in self.procs:
            self._expect(proc, "ready")

    @staticmethod
    def _expect(proc: subprocess.Popen[str], prefix: str) -> str:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if not line.startswith(prefix):
            raise RuntimeError("guest simulator said %r" % line)
        return line

    def ask(self, command: str,
            proc: typing.Optional[subprocess.Popen[str]] = None
            ) -> typing.List[str]:
        answers = []
        for _, each in self.procs:
            if proc is not None and each is not proc:
                continue
            assert each.stdin is not None and each.stdout is not None
            each.stdin.write(command + "\n")
            each.stdin.flush()
            answers.append(each.stdout.readline().strip())
        return answers

    def stats(self) -> typing.Dict[str, float]:
        totals: typing.Dict[str, float] = {}
        for answer in self.ask("stats"):
            for key, value in json.loads(answer).items():
                if key == "max_gap":
                    totals[key] = max(totals.get(key, 0.0), value)
                else:
                    totals[key] = totals.get(key, 0) + value
        return totals

    def silence(self, index: int) -> float:
        """Silence guest ``index``; the monotonic time it took effect."""
        owner = max((p for p in self.procs if p[0] <= index),
                    key=lambda p: p[0])[1]
        [answer] = self.ask("silence %d" % index, owner)
        return float(answer.split()[1])

    def cpu_seconds(self) -> float:
        """CPU seconds of every simulator process together."""
        return sum(sum(cpu_seconds(p.pid)) for _, p in self.procs)

    def stop(self) -> None:
        for _, proc in self.procs:
            if proc.stdin is not None:
                proc.stdin.close()
        for _, proc in self.procs:
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()


def measure(count: int,
            args: argparse.Namespace) -> typing.Dict[str, typing.Any]:
    """Every figure for ``count`` guests."""
    directory = tempfile.mkdtemp(prefix="hb-scale-", dir=run_dir())
    guests = monitor = None
    try:
        guests = GuestProcesses(directory, count, args.interval)
        monitor = MonitorProcess(directory, count, args)
        ramp = monitor.wait_healthy(count, args.ramp_timeout)
        time.sleep(args.settle)
        return _steady_and_silence(count, args, guests, monitor, ramp)
    finally:
        if monitor is not None:
            monitor.stop()
        if guests is not None:
            guests.stop()
        shutil.rmtree(directory, ignore_errors=True)


def _steady_and_silence(count: int, args: argparse.Namespace,
                        guests: GuestProcesses, monitor: MonitorProcess,
                        ramp: float) -> typing.Dict[str, typing.Any]:
    guests.ask("reset")
    before = monitor.telemetry()
    guests0 = guests.cpu_seconds()
    cpu0, wall0 = monitor.cpu_seconds(), time.monotonic()
    time.sleep(args.window)
    cpu1, wall1 = monitor.cpu_seconds(), time.monotonic()
    guests1 = guests.cpu_seconds()
    after = monitor.telemetry()
    seen = guests.stats()
    latencies = _detect(count, args, guests, monitor)
    peak_rss = monitor.peak_rss_kib()  # of monitoring, before the status
    status_seconds = monitor.status_seconds()
    limit = args.interval * args.threshold + 0.5
    false = [v for v in monitor.verdicts
             if v[1] not in monitor.silenced]
    return {
        "n": count, "ramp_seconds": round(ramp, 2),
        "window_seconds": round(wall1 - wall0, 2),
        "cpu_share": round((sum(cpu1) - sum(cpu0)) / (wall1 - wall0), 4),
        "cpu_share_system": round((cpu1[1] - cpu0[1]) / (wall1 - wall0), 4),
        "guests_cpu_share": round((guests1 - guests0) / (wall1 - wall0), 3),
        "peak_rss_mib": round(peak_rss / 1024, 1),
        "peak_rss_mib_after_status": round(monitor.peak_rss_kib() / 1024, 1),
        "challenges": int(seen["challenges"]),
        "late_challenges": int(seen["late"]),
        "max_challenge_gap": seen["max_gap"],
        "missed_heartbeats": after["missed"] - before["missed"],
        "false_verdicts": len(false),
        "loop_lag_max": round(after["loop_lag_max"], 4),
        "loop_lag_p99_window": _p99(before["loop_lag"], after["loop_lag"]),
        "loop_lag_window": [b - a for a, b in zip(
            before["loop_lag"]["counts"], after["loop_lag"]["counts"])],
        "stalls": after["stalls"], "dropped": after["dropped"],
        "status_seconds": round(status_seconds, 3),
        "detection_samples": len(latencies),
        "detection_max": round(max(latencies), 3) if latencies else None,
        "detection_median": (round(sorted(latencies)[len(latencies) // 2],
                                   3) if latencies else None),
        "detection_limit": limit,
        "detected_within_limit": sum(1 for x in latencies if x <= limit),
    }


def _detect(count: int, args: argparse.Namespace, guests: GuestProcesses,
            monitor: MonitorProcess) -> typing.List[float]:
    """Silence a sample of guests at random moments; the latencies."""
    sample = random.Random(count).sample(range(count),
                                         min(args.silence, count))
    silenced_at: typing.Dict[str, float] = {}
    for index in sample:
        time.sleep(random.uniform(0.0, args.interval / 2))
        uuid = monitor.uuid_of(index)
        monitor.silenced.add(uuid)
        silenced_at[uuid] = guests.silence(index)
    deadline = time.monotonic() + args.interval * args.threshold + 5.0
    while time.monotonic() < deadline and not all(
            u in monitor.lost for u in silenced_at):
        time.sleep(0.1)
    return [monitor.lost[u] - at for u, at in silenced_at.items()
            if u in monitor.lost]


def _p99(before: typing.Dict[str, typing.Any],
         after: typing.Dict[str, typing.Any]) -> typing.Optional[float]:
    """The bucket bound under which 99% of the window's lags fall."""
    counts = [b - a for a, b in zip(before["counts"], after["counts"])]
    total = sum(counts)
    if not total:
        return None
    running = 0
    for bound, n in zip(before["bounds"] + [float("inf")], counts):
        running += n
        if running >= 0.99 * total:
            return float(bound)
    return None


def line(result: typing.Dict[str, typing.Any]) -> str:
    return ("N=%(n)6d  cpu %(cpu)5.1f%% of one core (system %(sys).1f%%)"
            "  peak RSS "
            "%(peak_rss_mib)6.1f MiB  late challenges %(late_challenges)d"
            "  missed %(missed_heartbeats)d  false verdicts "
            "%(false_verdicts)d  loop lag max %(lag).1f ms  detection "
            "max %(dmax)s s median %(dmed)s s (%(detected_within_limit)d/"
            "%(detection_samples)d within %(detection_limit)g s)" % dict(
                result, cpu=result["cpu_share"] * 100,
                sys=result["cpu_share_system"] * 100,
                lag=result["loop_lag_max"] * 1000,
                dmax=result["detection_max"],
                dmed=result["detection_median"]))


def projection(path: str, results: typing.List[typing.Dict[str, typing.Any]],
               interval: float, qga_check_interval: float,
               refresh_interval: float, instances: int = 1000,
               ) -> typing.Optional[typing.Dict[str, typing.Any]]:
    """Monitor and libvirtd CPU for ``instances`` real ones, per mix.

    Not ``host_cost.py``'s cost per instance times ``instances``. With a
    handful of guests nearly all of that is the monitor waking up for
    each message: a wakeup of a process idle since the last one costs
    some hundred microseconds however little it does (``host_cost.py``
    prints it), and at 1,000 instances each wakeup handles several
    messages. So, at this run's ``interval``:

    * our heartbeat channel: what this run measured with simulated
      guests at ``instances`` (from the nearest N measured, in
      proportion, if it did not run that N);
    * QGA: ``host_cost.py``'s cost of one QGA challenge (its ``qga``
      mix: one per instance and second), times the challenges per
      second: one per ``qga_check_interval`` while our agent answers
      (``both``), one per interval without it (``qga``). Measured with
      a few guests, so it includes their wakeups: an upper bound;
    * the instance source: ``host_cost.py``'s cost of one look at a
      domain, every ``refresh_interval``.

    None without ``host_cost.py``'s JSON or without a simulated run.
    """
    if not os.path.exists(path) or not results:
        return None
    with open(path) as source:
        measured = json.load(source)
    nearest = min(results, key=lambda r: abs(r["n"] - instances))
    heartbeat = nearest["cpu_share"] * instances / nearest["n"]
    per_call = {row["mix"]: row for row in measured["results"]}.get("qga")
    qga_monitor_ms, qga_libvirtd_ms = (
        (per_call["monitor_ms_per_instance_s"],
         per_call["libvirtd_ms_per_instance_s"]) if per_call else (0.0, 0.0))
    refresh = measured.get("refresh") or {
        "monitor_ms_per_domain": 0.0, "libvirtd_ms_per_domain": 0.0}
    looks = instances / refresh_interval / 1000
    fixed = measured["fixed_monitor_share"] + looks * refresh[
        "monitor_ms_per_domain"]
    fixed_libvirtd = looks * refresh["libvirtd_ms_per_domain"]
    rates = {"heartbeat": 0.0, "both": 1 / qga_check_interval,
             "qga": 1 / interval}
    mixes = {}
    for mix, qga_rate in rates.items():
        if qga_rate and per_call is None:
            continue
        calls = instances * qga_rate / 1000
        ours = heartbeat if mix != "qga" else 0.0
        mixes[mix] = {
            "monitor_share": round(fixed + ours + calls * qga_monitor_ms, 4),
            "libvirtd_share": round(
                fixed_libvirtd + calls * qga_libvirtd_ms, 4)}
    return {"instances": instances, "interval": interval,
            "qga_check_interval": qga_check_interval,
            "refresh_interval": refresh_interval,
            "heartbeat_from_n": nearest["n"], "from": path, "mixes": mixes,
            "measured_load_average": measured.get("load_average_after")}


def projection_lines(projected: typing.Dict[str, typing.Any]
                     ) -> typing.List[str]:
    return ["projected, %d real instances at %g s, %-9s: monitor %5.1f%% "
            "+ libvirtd %5.1f%% of one core (heartbeat from N=%d here, "
            "QGA and the source from %s)"
            % (projected["instances"], projected["interval"], mix,
               100 * f["monitor_share"], 100 * f["libvirtd_share"],
               projected["heartbeat_from_n"], projected["from"])
            for mix, f in projected["mixes"].items()]


def machine() -> typing.Dict[str, typing.Any]:
    with open("/proc/cpuinfo") as cpuinfo:
        models = [ln.split(":", 1)[1].strip() for ln in cpuinfo
                  if ln.startswith("model name")]
    return {"cpus": os.cpu_count(), "cpu_model": models[0] if models else "",
            "load_average": os.getloadavg(),
            "python": platform.python_version(),
            "kernel": platform.release(),
            "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}


def _option_default(name: str) -> float:
    """The default of ``[heartbeat] name`` in the tree measured."""
    from nova_vm_heartbeat.conf import heartbeat
    for opt in heartbeat.all_opts():
        if opt.name == name:
            return float(opt.default)
    raise LookupError(name)


def parse(argv: typing.Optional[typing.Sequence[str]] = None
          ) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("counts", nargs="*", type=int,
                        help="numbers of guests (default 100 1000 10000)")
    parser.add_argument("--smoke", action="store_true",
                        help="N=20, short windows: a quick check for CI")
    parser.add_argument("--interval", type=float, default=1.0)
    parser.add_argument("--timeout", type=float, default=0.5)
    parser.add_argument("--threshold", type=int, default=3)
    parser.add_argument("--window", type=float, default=30.0,
                        help="seconds of steady state measured")
    parser.add_argument("--settle", type=float, default=5.0,
                        help="seconds between all healthy and the window")
    parser.add_argument("--silence", type=int, default=20,
                        help="guests silenced to measure detection")
    parser.add_argument("--ramp-timeout", type=float, default=120.0)
    parser.add_argument("--host-cost", default=os.path.join(
        HERE, os.pardir, "build", "benchmarks", "host_cost.json"),
        help="host_cost.py's JSON, for the projection to 1,000 real "
        "instances (default: build/benchmarks/host_cost.json)")
    parser.add_argument("--qga-check-interval", type=float,
                        default=_option_default("qga_check_interval"),
                        help="for the projection: seconds between QGA "
                        "challenges while our agent answers")
    parser.add_argument("--refresh-interval", type=float,
                        default=_option_default("refresh_interval"),
                        help="for the projection: seconds between two "
                        "looks at the host's domains")
    parser.add_argument("--metrics-port", type=int, default=0,
                        help="serve the metrics endpoint on this port "
                        "while measuring (default: off)")
    args = parser.parse_args(argv)
    if args.smoke:
        args.counts = args.counts or [20]
        args.window, args.settle, args.silence = 3.0, 1.0, 3
        args.ramp_timeout = 30.0
    args.counts = args.counts or [100, 1000, 10000]
    return args


def main(argv: typing.Optional[typing.Sequence[str]] = None) -> int:
    args = parse(argv)
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    conditions = machine()
    results = []
    for count in args.counts:
        result = measure(count, args)
        results.append(result)
        print(line(result), flush=True)
    conditions["load_average_after"] = os.getloadavg()
    projected = projection(os.path.normpath(args.host_cost), results,
                           args.interval, args.qga_check_interval,
                           args.refresh_interval)
    for text in projection_lines(projected) if projected else []:
        print(text, flush=True)
    print(json.dumps({"benchmark": "scale", "interval": args.interval,
                      "timeout": args.timeout, "threshold": args.threshold,
                      "window": args.window, "machine": conditions,
                      "results": results, "projected": projected}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
