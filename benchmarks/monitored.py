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

"""The monitor under test, alone in its process, for benchmarks/scale.py.

It runs the real :class:`~nova_vm_heartbeat.runtime.service.
MonitorService` (heartbeat channel only: no libvirt on a benchmark host)
over N instances whose sockets are ``<dir>/g<i>.sock``, with its admin
socket, and prints one line per notification on stdout::

    verdict <monotonic> <uuid> <event_type> <fault_class>

It runs until SIGTERM or its stdin closes.
"""

from __future__ import annotations

import argparse
import os
import resource
import signal
import sys
import threading
import time
import typing

from nova_vm_heartbeat import composition
from nova_vm_heartbeat.monitor.policy import Settings
from nova_vm_heartbeat.notifications.payload import Notification
from nova_vm_heartbeat.runtime.options import AdminEndpoint
from nova_vm_heartbeat.runtime.options import MetricsEndpoint
from nova_vm_heartbeat.runtime.options import RuntimeOptions
from nova_vm_heartbeat.runtime.service import MonitorService
from nova_vm_heartbeat.sinks.base import Sink
from nova_vm_heartbeat.sources.base import InstanceInfo
from nova_vm_heartbeat.sources.base import InstanceSource


def uuid_of(index: int) -> str:
    return "00000000-0000-4000-8000-%012d" % index


class StaticSource(InstanceSource):
    """The same N running instances, every time."""

    def __init__(self, directory: str, count: int, settings: Settings):
        self.infos = [InstanceInfo(
            uuid=uuid_of(i), domain_name="instance-%08x" % i,
            settings=settings, display_name="sim-%d" % i,
            heartbeat_socket=os.path.join(directory, "g%d.sock" % i),
            running=True, uptime=3600.0) for i in range(count)]

    def instances(self) -> typing.List[InstanceInfo]:
        return self.infos


class PrintingSink(Sink):
    """One stdout line per notification, with the monotonic time."""

    def __init__(self) -> None:
        self._lock = threading.Lock()

    def send(self, notification: Notification) -> None:
        data = notification.payload["nova_object.data"]
        line = "verdict %.6f %s %s %s\n" % (
            time.monotonic(), data["instance_uuid"],
            notification.event_type, data["fault_class"])
        with self._lock:
            sys.stdout.write(line)
            sys.stdout.flush()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dir", required=True)
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--interval", type=float, default=1.0)
    parser.add_argument("--timeout", type=float, default=0.5)
    parser.add_argument("--threshold", type=int, default=3)
    parser.add_argument("--admin", required=True)
    parser.add_argument("--metrics-port", type=int, default=0,
                        help="serve metrics on 127.0.0.1:PORT (0: off)")
    args = parser.parse_args()
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    settings = Settings(interval=args.interval, timeout=args.timeout,
                        failure_threshold=args.threshold, heartbeat=True)
    metrics = (MetricsEndpoint("127.0.0.1", args.metrics_port)
               if args.metrics_port else None)
    options = RuntimeOptions(
        host="bench", defaults=settings, refresh_interval=60.0,
        libvirt_uri=None, admin=AdminEndpoint(args.admin), metrics=metrics)
    service = MonitorService(
        StaticSource(args.dir, args.count, settings), PrintingSink(),
        options, lifecycle_events=False,
        endpoints=composition.endpoints(options))
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())

    def wait_for_eof() -> None:
        sys.stdin.read()
        done.set()

    threading.Thread(target=wait_for_eof, daemon=True).start()
    service.start()
    done.wait()
    service.stop()


if __name__ == "__main__":
    main()
