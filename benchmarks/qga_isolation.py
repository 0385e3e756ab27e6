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

"""What stuck QEMU guest agents do to another instance's QGA challenges.

Runs the QGA prober (``runtime/qga.py``) on the project's fake libvirt
(``tests/fakelibvirt.py``, whose ``hang`` agents block each call for its
whole timeout, as a SIGSTOPped qemu-ga does): ``--stuck`` agents that
never answer and one healthy agent, ``--workers`` pool threads, one
challenge per instance every ``--gap`` seconds for ``--rounds`` rounds,
the healthy instance challenged last in each round (the worst place).
It prints how the healthy instance's challenges ended, overall and over
the last five rounds, and one JSON line.

``--module FILE`` loads ``QgaProber`` from another file, to compare:

    git show d09b700:nova_vm_heartbeat/runtime/qga.py > /tmp/qga_old.py
    .venv/bin/python benchmarks/qga_isolation.py --module /tmp/qga_old.py
    .venv/bin/python benchmarks/qga_isolation.py
"""

from __future__ import annotations

import argparse
import collections
import concurrent.futures
import importlib.util
import json
import pathlib
import sys
import threading
import time
import typing

TOP = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(TOP))

from nova_vm_heartbeat.monitor import signals as sig  # noqa: E402
from nova_vm_heartbeat.runtime.hypervisor import Hypervisor  # noqa: E402
from nova_vm_heartbeat.runtime import qga as qga_mod  # noqa: E402
from tests import fakelibvirt  # noqa: E402

HEALTHY = "11111111-1111-4111-8111-111111111111"


def prober_class(module: typing.Optional[str]) -> typing.Any:
    if module is None:
        return qga_mod.QgaProber
    spec = importlib.util.spec_from_file_location("qga_under_test", module)
    assert spec is not None and spec.loader is not None
    loaded = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(loaded)
    return loaded.QgaProber


def outcome(signal: sig.Signal) -> str:
    if isinstance(signal, sig.QgaFailed):
        return "failed:%s" % signal.error.value
    return "answered"


def run(cls: typing.Any, stuck: int, workers: int, rounds: int,
        gap: float, timeout: float) -> typing.Dict[str, typing.Any]:
    fake = fakelibvirt.FakeLibvirt()
    for number in range(stuck):
        fake.add_domain("00000000-0000-4000-8000-%012d" % number,
                        "stuck-%d" % number, "<domain/>",
                        qga=fakelibvirt.Qga(mode="hang"))
    fake.add_domain(HEALTHY, "healthy", "<domain/>")
    hypervisor = Hypervisor(fake, "qemu:///system", fake.libvirt_qemu)
    lock = threading.Lock()
    seen: typing.Dict[int, str] = {}

    def post(uuid: str, signal: sig.Signal) -> None:
        if uuid == HEALTHY:
            with lock:
                seen[getattr(signal, "seq")] = outcome(signal)

    pool = concurrent.futures.ThreadPoolExecutor(workers)
    prober = cls(hypervisor, pool, workers, post)
    try:
        for seq in range(1, rounds + 1):
            for number in range(stuck):
                prober.sync("00000000-0000-4000-8000-%012d" % number, seq,
                            timeout)
            prober.sync(HEALTHY, seq, timeout)
            time.sleep(gap)
        time.sleep(timeout)
    finally:
        fake.release_hangs()
        pool.shutdown(wait=True)
    last = [seen.get(seq, "no outcome")
            for seq in range(rounds - 4, rounds + 1)]
    return {"stuck": stuck, "workers": workers, "rounds": rounds,
            "healthy": dict(collections.Counter(
                seen.get(seq, "no outcome")
                for seq in range(1, rounds + 1))),
            "healthy_last_5": last}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stuck", type=int, default=16)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=14)
    parser.add_argument("--gap", type=float, default=0.5)
    parser.add_argument("--timeout", type=float, default=1.0)
    parser.add_argument("--module", help="load QgaProber from this file")
    args = parser.parse_args()
    figures = run(prober_class(args.module), args.stuck, args.workers,
                  args.rounds, args.gap, args.timeout)
    figures["prober"] = args.module or "nova_vm_heartbeat.runtime.qga"
    print("%(prober)s: %(stuck)d stuck agents, %(workers)d workers: the "
          "healthy instance's %(rounds)d challenges: %(healthy)s; last "
          "five: %(healthy_last_5)s" % figures)
    print(json.dumps(figures, sort_keys=True))


if __name__ == "__main__":
    main()
