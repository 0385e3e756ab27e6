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

"""What a verdict costs the monitor thread in the outbox, and what it waits.

The monitor thread calls :meth:`Outbox.put` for every notification; the
sink of the standalone monitor and the one inside nova-compute both do.
This puts ``--count`` notifications, one every ``--gap`` seconds (a burst
with 0), into an outbox in a fresh directory on a real disk
(``--dir``, default under /var/tmp), with a delivery that takes each at
once, and measures on the calling thread:

* the wall time of each ``put`` (median, 99th percentile, max), which is
  what the monitor thread is held for;
* its CPU time in total;

and, off that thread, the time until everything is on disk
(:meth:`Outbox.flush`, when the outbox has it) and delivered.

``--module FILE`` loads the ``Outbox`` class from another file instead
(for example the previous version, from ``git show``), to compare:

    git show HEAD~1:nova_vm_heartbeat/sinks/outbox.py > /tmp/outbox_old.py
    .venv/bin/python benchmarks/outbox_put.py --module /tmp/outbox_old.py
    .venv/bin/python benchmarks/outbox_put.py

It prints a line of figures and, last, one JSON line with them.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import pathlib
import statistics
import sys
import tempfile
import threading
import time
import typing

TOP = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(TOP))

from nova_vm_heartbeat.notifications.payload import Notification  # noqa
from nova_vm_heartbeat.sinks import outbox as outbox_mod  # noqa: E402
from tests import notification_samples as samples  # noqa: E402


def outbox_class(module: typing.Optional[str]) -> typing.Any:
    if module is None:
        return outbox_mod.Outbox
    spec = importlib.util.spec_from_file_location("outbox_under_test",
                                                  module)
    assert spec is not None and spec.loader is not None
    loaded = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(loaded)
    return loaded.Outbox


def measure(cls: typing.Any, directory: str, count: int,
            gap: float) -> typing.Dict[str, typing.Any]:
    note = Notification.from_dict(samples.load("instance-heartbeat_lost"))
    delivered = threading.Semaphore(0)
    box = cls(directory, lambda n: delivered.release(), max_items=count + 1)
    box.start()
    latencies = []
    cpu = time.thread_time()
    started = time.monotonic()
    for _ in range(count):
        before = time.perf_counter()
        box.put(note)
        latencies.append(time.perf_counter() - before)
        if gap:
            time.sleep(gap)
    cpu = time.thread_time() - cpu
    put_done = time.monotonic()
    flush = getattr(box, "flush", None)
    if flush is not None:
        flush(600.0)
    on_disk = time.monotonic()
    for _ in range(count):
        delivered.acquire()
    all_delivered = time.monotonic()
    box.stop()
    latencies.sort()
    return {
        "count": count, "gap_s": gap,
        "put_median_ms": 1000 * statistics.median(latencies),
        "put_p99_ms": 1000 * latencies[int(0.99 * (count - 1))],
        "put_max_ms": 1000 * latencies[-1],
        "put_cpu_ms_total": 1000 * cpu,
        "on_disk_after_last_put_ms": 1000 * (on_disk - put_done),
        "delivered_after_first_put_s": all_delivered - started,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=500)
    parser.add_argument("--gap", type=float, default=0.0,
                        help="seconds between two puts (0: a burst)")
    parser.add_argument("--dir", default="/var/tmp",
                        help="where the outbox directory is made")
    parser.add_argument("--module", help="load Outbox from this file")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=args.dir) as parent:
        figures = measure(outbox_class(args.module), parent + "/outbox",
                          args.count, args.gap)
    figures["outbox"] = args.module or "nova_vm_heartbeat.sinks.outbox"
    print("%(outbox)s: %(count)d puts; on the calling thread: median "
          "%(put_median_ms).3f ms, p99 %(put_p99_ms).3f ms, max "
          "%(put_max_ms).3f ms, CPU %(put_cpu_ms_total).1f ms in all; "
          "everything on disk %(on_disk_after_last_put_ms).1f ms after "
          "the last put, delivered %(delivered_after_first_put_s).2f s "
          "after the first" % figures)
    print(json.dumps(figures, sort_keys=True))


if __name__ == "__main__":
    main()
