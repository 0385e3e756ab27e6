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

"""Detection latency and false alarms, on real guests.

Boots real TCG guests on qemu:///system (run as root; the host is
prepared and the guest image built as for the hypervisor test tier),
runs ``nova-vm-heartbeat-monitor`` with the messaging sink on RabbitMQ
(a private node is started when none runs), and

* injects every detectable fault of the fault matrix ``--repeat`` times,
  with interval 1 s and failure threshold 3, timing each from the fault
  to the notification's arrival on the bus;
* carries out every benign operation ``--repeat`` times and counts the
  notifications that followed (false alarms).

It prints a table (median and max latency per fault) and, last, one JSON
line with every figure. Faults that can be healed reuse one guest; the
others get a fresh guest per repetition, booted ahead in parallel.

Usage (from the top of the tree, with the project's virtualenv):
    .venv/bin/python benchmarks/detection.py [--repeat N]
"""

from __future__ import annotations

import argparse
import collections
import json
import pathlib
import statistics
import sys
import time
import typing

TOP = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(TOP))

from nova_vm_heartbeat import cmd  # noqa: E402

cmd.use_native_threads()

from tests.functional.fixtures import RabbitMQ  # noqa: E402
from tests.functional.hypervisor import conftest  # noqa: E402
from tests.functional.hypervisor import guests  # noqa: E402
from tests.functional.hypervisor import host  # noqa: E402
from tests.functional.hypervisor import lab as lab_  # noqa: E402
from tests.functional.hypervisor import monitor as mon  # noqa: E402


def say(message: str) -> None:
    print("==> %s" % message, file=sys.stderr, flush=True)


class Bench:
    def __init__(self, lab: lab_.Lab, start: conftest.GuestStarter,
                 workdir: pathlib.Path):
        self.lab = lab
        self.start = start
        self.workdir = workdir
        self.latencies: typing.Dict[str, typing.List[float]] = \
            collections.defaultdict(list)
        self.classes: typing.Dict[str, typing.Set[str]] = \
            collections.defaultdict(set)
        self.alarms: typing.Dict[str, int] = collections.Counter()
        self.operations: typing.Dict[str, int] = collections.Counter()

    def guests(self, count: int, **fields: typing.Any,
               ) -> typing.List[guests.Guest]:
        """Boot ``count`` guests at once; wait until all are healthy."""
        return self.lab.healthy_guests(self.start, count,
                                       display_name="bench", **fields)

    def fault(self, fault: lab_.Fault, repeat: int) -> None:
        if fault.heals:
            (guest,) = self.guests(1, **fault.guest)
            victims = [guest] * repeat
        else:
            victims = self.guests(repeat, **fault.guest)
        for number, guest in enumerate(victims, 1):
            detection = lab_.detect(self.lab, guest, fault)
            self.latencies[fault.name].append(detection.latency)
            self.classes[fault.name].add(detection.fault_class)
            say("%s #%d: %s after %.2f s" % (fault.name, number,
                                             detection.fault_class,
                                             detection.latency))
            if fault.heals:
                lab_.heal(self.lab, guest, fault, detection)
                time.sleep(lab_.INTERVAL * 2)  # answers flow again
            else:
                guest.remove()

    def benign(self, operation: lab_.Operation, repeat: int) -> None:
        if operation.ends_guest:
            victims = self.guests(repeat)
        else:
            disk = None
            if operation.needs_disk:
                disk = self.workdir / ("disk-%d.img" % len(self.operations))
                with disk.open("wb") as image:
                    image.truncate(16 * 1024 * 1024)
            (guest,) = self.guests(1, disk=disk)
            victims = [guest] * repeat
        for number, guest in enumerate(victims, 1):
            noise = lab_.false_alarms(self.lab, guest, operation)
            self.operations[operation.name] += 1
            self.alarms[operation.name] += len(noise)
            say("%s #%d: %d notification(s)" % (operation.name, number,
                                                len(noise)))
        for guest in set(victims):
            guest.remove()


def report(bench: Bench, repeat: int) -> typing.Dict[str, typing.Any]:
    print("detection latency, interval %.0f s, threshold %d (target for a "
          "lost heartbeat: %.1f s); %d repetitions each"
          % (lab_.INTERVAL, lab_.FAILURE_THRESHOLD, lab_.DETECTION_TARGET,
             repeat))
    print("%-32s %-28s %8s %8s  %s" % ("fault", "fault class", "median",
                                       "max", "measured from"))
    faults = []
    for fault in lab_.FAULTS:
        values = bench.latencies.get(fault.name, [])
        if not values:
            continue
        median, worst = statistics.median(values), max(values)
        classes = ",".join(sorted(bench.classes[fault.name]))
        print("%-32s %-28s %7.2fs %7.2fs  %s" % (
            fault.name, classes, median, worst, fault.measured_from))
        faults.append({"fault": fault.name, "fault_classes": classes,
                       "event_type": fault.event_type,
                       "latencies_s": [round(v, 3) for v in values],
                       "median_s": round(median, 3),
                       "max_s": round(worst, 3),
                       "measured_from": fault.measured_from})
    total = sum(bench.alarms.values())
    print("false alarms: %d over %d benign operations (%s)" % (
        total, sum(bench.operations.values()),
        ", ".join("%s x%d" % item for item in bench.operations.items())))
    return {"interval_s": lab_.INTERVAL,
            "failure_threshold": lab_.FAILURE_THRESHOLD,
            "target_s": lab_.DETECTION_TARGET, "repeat": repeat,
            "faults": faults, "false_alarms": total,
            "benign_operations": dict(bench.operations),
            "false_alarms_by_operation": dict(bench.alarms)}


def main(argv: typing.Optional[typing.Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3,
                        help="injections per fault and runs per benign "
                        "operation (default 3)")
    args = parser.parse_args(argv)
    say("preparing the host (tools/prepare-host.sh)")
    host.prepare()
    say("building or reusing the guest image")
    cached = host.cached_image()
    modules = guests.import_libvirt()
    broker = RabbitMQ()
    say("RabbitMQ on 127.0.0.1:5672 (starting a private node if none)")
    broker.open_session()
    try:
        with host.workdir("hb-bench-") as workdir, broker.using():
            image = host.install_image(cached, workdir / "image")
            connection = guests.Connection(modules)
            starter = conftest.GuestStarter(modules, connection, image,
                                            workdir)
            monitor = mon.MonitorProcess(workdir, broker.url)
            try:
                with mon.watching(broker, workdir) as bus:
                    monitor.start()
                    bench = Bench(lab_.Lab(monitor, bus), starter, workdir)
                    for fault in lab_.FAULTS:
                        bench.fault(fault, args.repeat)
                    for operation in lab_.BENIGN:
                        bench.benign(operation, args.repeat)
                    figures = report(bench, args.repeat)
            finally:
                starter.remove_all(consoles=False)
                status = monitor.stop()
                connection.close()
                kept = TOP / "build" / "benchmarks" / "detection-monitor.log"
                kept.parent.mkdir(parents=True, exist_ok=True)
                kept.write_text(monitor.log())
                say("the monitor's log is in %s" % kept)
            if status != 0:
                say("the monitor exited with %d" % status)
                return 1
    finally:
        broker.close_session()
    print(json.dumps(figures, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
