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

"""The standalone monitor as a process, and what it puts on the bus.

:class:`MonitorProcess` runs ``nova-vm-heartbeat-monitor`` as an operator
would (a console script with a configuration file), with the libvirt
source on ``qemu:///system`` and the messaging sink on the test broker.
:class:`BusWatcher` is a real oslo.messaging notification listener on
Nova's exchange that keeps every notification with its arrival time: the
hypervisor tests judge the monitor only by what it publishes.
"""

from __future__ import annotations

import contextlib
import dataclasses
import pathlib
import shutil
import signal
import subprocess
import sys
import threading
import time
import typing

from tests.functional.fixtures import RabbitMQ
from tests.functional.sinks import test_messaging

PROGRAM = "nova-vm-heartbeat-monitor"
#: The log line that says the monitor thread runs.
STARTED = "Heartbeat monitor started"
#: Seconds the monitor may take to start, and to stop after SIGTERM.
START_TIMEOUT = 30.0
STOP_TIMEOUT = 15.0
#: The compute host name the monitor publishes as (nova-compute:<host>).
HOST = "hv-test"


def _program() -> str:
    """The console script of the running interpreter's environment."""
    beside = pathlib.Path(sys.executable).parent / PROGRAM
    if beside.exists():
        return str(beside)
    found = shutil.which(PROGRAM)
    if found is None:
        raise AssertionError("%s is not installed" % PROGRAM)
    return found


class MonitorProcess:
    """``nova-vm-heartbeat-monitor`` with its own configuration and log."""

    def __init__(self, directory: pathlib.Path, transport_url: str,
                 host: str = HOST,
                 options: typing.Optional[
                     typing.Dict[str, typing.Dict[str, object]]] = None):
        self.directory = directory
        self.config = directory / "monitor.conf"
        self.log_path = directory / "monitor.log"
        groups: typing.Dict[str, typing.Dict[str, object]] = {
            # Debug: a failing case is then explained by the log alone.
            "DEFAULT": {"transport_url": transport_url, "debug": True},
            "heartbeat_standalone": {"libvirt_uri": "qemu:///system",
                                     "host": host},
            "heartbeat_sink": {"driver": "messaging",
                               "outbox_dir": directory / "outbox"},
            "heartbeat": {"state_file": directory / "episodes.json"},
            # Back on the bus within 2 s of a broker restart.
            "oslo_messaging_rabbit": {"rabbit_interval_max": 2},
        }
        for group, values in (options or {}).items():
            groups.setdefault(group, {}).update(values)
        self.config.write_text("".join(
            "[%s]\n%s\n" % (group, "".join(
                "%s = %s\n" % item for item in values.items()))
            for group, values in groups.items()))
        self.process: typing.Optional[subprocess.Popen[bytes]] = None
        self._log_offset = 0

    def start(self) -> "MonitorProcess":
        """Start the monitor and wait until its loop runs."""
        assert self.process is None, "already started"
        with self.log_path.open("ab") as log:
            self._log_offset = log.tell()
            self.process = subprocess.Popen(
                [_program(), "--config-file", str(self.config)],
                stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + START_TIMEOUT
        while STARTED not in self.log(since_start=True):
            if self.process.poll() is not None:
                raise AssertionError("%s exited with %d:\n%s" % (
                    PROGRAM, self.process.returncode, self.log()))
            if time.monotonic() > deadline:
                raise AssertionError("%s did not start within %g s:\n%s"
                                     % (PROGRAM, START_TIMEOUT, self.log()))
            time.sleep(0.1)
        return self

    def stop(self) -> int:
        """SIGTERM, and wait; the exit status (0 when it stopped cleanly)."""
        process, self.process = self.process, None
        if process is None:
            return 0
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
        try:
            return process.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            raise AssertionError("%s did not stop within %g s of SIGTERM"
                                 % (PROGRAM, STOP_TIMEOUT))

    def restart(self) -> None:
        status = self.stop()
        assert status == 0, "%s exited with %d:\n%s" % (PROGRAM, status,
                                                        self.log())
        self.start()

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def log(self, since_start: bool = False) -> str:
        try:
            with self.log_path.open("rb") as log:
                if since_start:
                    log.seek(self._log_offset)
                return log.read().decode("utf-8", "replace")
        except FileNotFoundError:
            return ""

    def wait_for_log(self, text: str, timeout: float) -> None:
        """Wait until the log (since the last start) contains ``text``."""
        deadline = time.monotonic() + timeout
        while text not in self.log(since_start=True):
            if not self.alive():
                raise AssertionError("%s is not running:\n%s"
                                     % (PROGRAM, self.log()))
            if time.monotonic() > deadline:
                raise AssertionError(
                    "%r not in the monitor's log after %g s; its end:\n%s"
                    % (text, timeout, self.log()[-4000:]))
            time.sleep(0.1)


@dataclasses.dataclass(frozen=True)
class Received:
    """One notification as the listener got it."""

    event_type: str
    publisher_id: str
    payload: typing.Dict[str, typing.Any]
    #: time.monotonic() when it arrived.
    arrived: float

    @property
    def data(self) -> typing.Dict[str, typing.Any]:
        return typing.cast(typing.Dict[str, typing.Any],
                           self.payload["nova_object.data"])

    @property
    def instance_uuid(self) -> str:
        return str(self.data["instance_uuid"])


class BusWatcher:
    """A notification listener's endpoint that keeps everything."""

    def __init__(self) -> None:
        self._lock = threading.Condition()
        self._received: typing.List[Received] = []

    def info(self, ctxt: object, publisher_id: str, event_type: str,
             payload: typing.Dict[str, typing.Any],
             metadata: object) -> None:
        arrived = time.monotonic()
        with self._lock:
            self._received.append(
                Received(event_type, publisher_id, payload, arrived))
            self._lock.notify_all()

    def about(self, instance_uuid: str,
              since: float = 0.0) -> typing.List[Received]:
        """What arrived about one instance so far, in order.

        Only what arrived at or after ``since`` (``time.monotonic()``)
        counts.
        """
        with self._lock:
            return [r for r in self._received
                    if r.arrived >= since and r.payload.get(
                        "nova_object.data", {}).get(
                            "instance_uuid") == instance_uuid]

    def all(self) -> typing.List[Received]:
        with self._lock:
            return list(self._received)

    def wait_for(self, instance_uuid: str, event_type: str,
                 timeout: float, since: float = 0.0) -> Received:
        """The first ``event_type`` about the instance; waits for it.

        Only what arrived at or after ``since`` (``time.monotonic()``)
        counts.
        """
        deadline = time.monotonic() + timeout
        with self._lock:
            while True:
                for received in self._received:
                    if received.event_type == event_type and \
                            received.instance_uuid == instance_uuid and \
                            received.arrived >= since:
                        return received
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(
                        "no %s about %s within %g s; about it: %s" % (
                            event_type, instance_uuid, timeout,
                            [(r.event_type, r.data.get("fault_class"))
                             for r in self._received
                             if r.instance_uuid == instance_uuid]))
                self._lock.wait(left)


@contextlib.contextmanager
def watching(broker: RabbitMQ,
             directory: pathlib.Path) -> typing.Iterator[BusWatcher]:
    """A :class:`BusWatcher` listening on Nova's versioned topic."""
    watcher = BusWatcher()
    with test_messaging.listening(
            broker, directory / "listener.conf",
            typing.cast(test_messaging.Endpoint, watcher)):
        yield watcher
