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

"""The cost of the Nova instance source's question to the conductor.

Inside nova-compute the monitor asks ``InstanceList.get_by_host`` (with
the flavor and system metadata) at most once a minute per host
(``nova_vm_heartbeat.virt.source.CONDUCTOR_INTERVAL``). This script
builds Nova's real database schema (SQLite, Nova's own test fixture),
creates N instances on one host with a heartbeat flavor, and times what
the conductor does for that question: the database query, and the
serialization of the answer that travels back over RPC (wall and CPU
time, in this one process). It prints a table and, last, one JSON line
with every figure; "CPU s per hour" is the CPU one host's question costs
per hour at one question a minute.

Not measured: the broker round trip (a few milliseconds on a LAN) and
MySQL instead of SQLite.

Usage (from the top of the tree, with the project's virtualenv):
    .venv/bin/python benchmarks/conductor_query.py [--sizes 10,100,500]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
import typing

# Native threads, as nova-compute runs (Nova's test fixtures patch again).
os.environ.setdefault("OS_NOVA_DISABLE_EVENTLET_PATCHING", "1")

from nova import monkey_patch  # noqa: E402

monkey_patch.patch()

from nova import context as nova_context  # noqa: E402
from nova import objects  # noqa: E402
from nova.tests import fixtures as nova_fixtures  # noqa: E402
from oslo_config import fixture as config_fixture  # noqa: E402

from nova import conf as nova_conf  # noqa: E402

HOST = "compute-1"
EXPECTED = ["flavor", "system_metadata"]
SPECS = {"hw:heartbeat": "true", "hw:heartbeat_interval": "5"}
#: [heartbeat] conductor_interval's default: one question a minute.
INTERVAL = 60.0


def populate(context: typing.Any, count: int) -> None:
    flavor = objects.Flavor(
        id=1, flavorid="hb", name="m1.heartbeat", memory_mb=512, vcpus=1,
        root_gb=1, ephemeral_gb=0, swap=0, rxtx_factor=1.0,
        vcpu_weight=0, disabled=False, is_public=True,
        extra_specs=dict(SPECS), description=None)
    for _ in range(count):
        new = objects.Instance(
            context=context, host=HOST, node=HOST, compute_id=1,
            project_id="p",
            user_id="u", vm_state="active", power_state=1,
            flavor=flavor, old_flavor=None, new_flavor=None,
            instance_type_id=1, memory_mb=512, vcpus=1, root_gb=1,
            system_metadata={"image_hw_qemu_guest_agent": "yes"})
        new.create()


def measure(count: int, repeat: int) -> typing.Dict[str, float]:
    context = nova_context.get_admin_context()
    populate(context, count)
    times, cpu, size = [], [], 0
    for _ in range(repeat):
        began, began_cpu = time.perf_counter(), time.process_time()
        answer = objects.InstanceList.get_by_host(
            context, HOST, expected_attrs=EXPECTED)
        primitive = answer.obj_to_primitive()
        times.append(time.perf_counter() - began)
        cpu.append(time.process_time() - began_cpu)
        size = len(json.dumps(primitive, default=str))
    assert len(answer) == count, len(answer)
    cpu_median = statistics.median(cpu)
    return {"instances": count,
            "median_ms": round(statistics.median(times) * 1e3, 2),
            "max_ms": round(max(times) * 1e3, 2),
            "cpu_ms": round(cpu_median * 1e3, 2),
            "answer_kib": round(size / 1024, 1),
            "cpu_s_per_hour": round(cpu_median * 3600 / INTERVAL, 2)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="10,100,500")
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    conf = nova_conf.CONF
    fixture = config_fixture.Config(conf)
    fixture.setUp()
    conf([], project="nova", default_config_files=[])
    rows = []
    for count in (int(n) for n in args.sizes.split(",")):
        database = nova_fixtures.Database()
        database.setUp()
        try:
            rows.append(measure(count, args.repeat))
        finally:
            database.cleanUp()
    print("%10s %10s %10s %10s %11s %15s" % (
        "instances", "median ms", "max ms", "CPU ms", "answer KiB",
        "CPU s per hour"))
    for row in rows:
        print("%10d %10.2f %10.2f %10.2f %11.1f %15.2f" % (
            row["instances"], row["median_ms"], row["max_ms"],
            row["cpu_ms"], row["answer_kib"], row["cpu_s_per_hour"]))
    print(json.dumps({"conductor_query": rows, "interval_s": INTERVAL}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
