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

"""What one QGA challenge costs the monitor's side, on a real guest.

Boots one real TCG guest (``--name``; run as root, the host prepared as
for the hypervisor test tier) or uses a running domain (``--uuid``), and
sends ``--calls`` QGA challenges with the monitor's own prober
(``runtime/qga.py``) on the real libvirt client, one after the other:

* ``direct``: the challenge on this thread (libvirt client, JSON);
* ``pool``: as the monitor does it, through ``QgaProber.sync``, a worker
  of its pool, and the outcome posted back (thread hand-off included).

For each it prints the process CPU time per call (every thread of this
process, libvirt's own included), the wall time per call, and libvirtd's
CPU per call (libvirtd is shared: other work on the host adds noise).
``PYTHONPATH=<another tree>`` measures another tree's prober.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import os
import pathlib
import sys
import threading
import time
import typing

from nova_vm_heartbeat.monitor import signals as sig
from nova_vm_heartbeat.runtime import hypervisor as hv
from nova_vm_heartbeat.runtime import qga

# After the package: host_cost puts this tree first on the path.
TOP = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(TOP / "benchmarks"))

from host_cost import cpu  # noqa: E402
from host_cost import libvirtd_pid  # noqa: E402


def measure(label: str, calls: int, call: typing.Callable[[int], None],
            libvirtd: int) -> typing.Dict[str, typing.Any]:
    for seq in range(20):  # warm up
        call(seq)
    lv0, cpu0, wall0 = cpu(libvirtd), time.process_time(), time.monotonic()
    for seq in range(calls):
        call(seq)
    lv1, cpu1, wall1 = cpu(libvirtd), time.process_time(), time.monotonic()
    figures: typing.Dict[str, typing.Any] = {
        "mode": label, "calls": calls,
        "monitor_cpu_us": round(1e6 * (cpu1 - cpu0) / calls, 1),
        "wall_us": round(1e6 * (wall1 - wall0) / calls, 1),
        "libvirtd_cpu_us": round(1e6 * (lv1 - lv0) / calls, 1),
        "load_average": os.getloadavg()}
    print("%-6s monitor CPU %7.1f us/call  wall %7.1f us/call  libvirtd "
          "CPU %7.1f us/call  (load %.2f)" % (
              label, figures["monitor_cpu_us"], figures["wall_us"],
              figures["libvirtd_cpu_us"], figures["load_average"][0]),
          flush=True)
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--uuid", required=True)
    parser.add_argument("--calls", type=int, default=500)
    args = parser.parse_args()
    import libvirt  # type: ignore[import-untyped]
    hypervisor = hv.Hypervisor(libvirt, "qemu:///system",
                               hv.qemu_module(libvirt))
    libvirtd = libvirtd_pid()
    outcomes: typing.List[sig.Signal] = []
    done = threading.Event()

    def post(uuid: str, signal: sig.Signal) -> None:
        outcomes.append(signal)
        done.set()

    pool = concurrent.futures.ThreadPoolExecutor(2)
    prober = qga.QgaProber(hypervisor, pool, 2, post)

    def direct(seq: int) -> None:
        outcomes.append(prober._challenge(args.uuid, seq, 5.0))

    def pooled(seq: int) -> None:
        done.clear()
        prober.sync(args.uuid, seq, 5.0)
        done.wait(10)

    results = [measure("direct", args.calls, direct, libvirtd),
               measure("pool", args.calls, pooled, libvirtd)]
    pool.shutdown()
    answered = sum(isinstance(o, sig.QgaAnswered) for o in outcomes)
    print(json.dumps({"benchmark": "qga_call", "code": qga.__file__,
                      "answered": answered, "outcomes": len(outcomes),
                      "results": results}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
