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

"""The demo: two real guests, a live status table, a fault, its notification.

Run by ``tools/demo.sh`` once the host is prepared, the virtualenv built
and the guest image cached. It

1. makes sure RabbitMQ runs (a private node through tools/rabbitmq.sh,
   stopped again at the end if the demo started it);
2. starts the standalone monitor in this process, exactly as
   ``nova-vm-heartbeat-monitor`` builds it (libvirt source on
   qemu:///system, messaging sink), with its log in a file;
3. listens on the bus like a Masakari bridge or Vitrage would;
4. boots two TCG guests shaped like Nova instances (Nova's metadata and
   channel socket paths), running qemu-ga and our agent;
5. shows a live status table (the one ``nova-vm-heartbeat status`` prints)
   until both are healthy, hangs one of them
   (its heartbeat agent and qemu-ga stopped with SIGSTOP: the kernel runs
   on, nothing answers), and prints the notification when it arrives;
6. removes every domain, and stops everything it started, also on Ctrl-C.

The guest helpers are those of the hypervisor test tier
(``tests/functional/hypervisor``).
"""

from __future__ import annotations

import argparse
import json
import pathlib
import shutil
import signal
import sys
import tempfile
import time
import traceback
import types
import typing

TOP = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(TOP))

# Before anything imports oslo.messaging (see nova_vm_heartbeat.cmd).
from nova_vm_heartbeat import cmd  # noqa: E402

cmd.use_native_threads()

from oslo_config import cfg  # noqa: E402

from nova_vm_heartbeat.admin import table  # noqa: E402
from nova_vm_heartbeat.admin import wire  # noqa: E402
from nova_vm_heartbeat.cmd import monitor as monitor_cmd  # noqa: E402
from nova_vm_heartbeat import composition  # noqa: E402
from nova_vm_heartbeat.runtime.fleet import InstanceStatus  # noqa: E402
from tests.functional.fixtures import RabbitMQ  # noqa: E402
from tests.functional.hypervisor import domains  # noqa: E402
from tests.functional.hypervisor import guests  # noqa: E402
from tests.functional.hypervisor import host  # noqa: E402
from tests.functional.hypervisor import lab  # noqa: E402
from tests.functional.hypervisor import monitor as hv_monitor  # noqa: E402

HOST = "demo-compute"
GUESTS = ("web-1", "db-1")
#: The guest that gets the fault.
VICTIM = "db-1"
BOOT_TIMEOUT = 120.0
#: Seconds of healthy table before the fault.
HEALTHY_SHOW = 6.0
#: Seconds the table keeps running after the notification arrived.
AFTER_SHOW = 4.0
REFRESH = 1.0


def say(message: str) -> None:
    print("==> %s" % message, flush=True)


class Interrupted(Exception):
    """SIGTERM or SIGINT: clean up and leave."""


def _interrupt(signum: int, frame: typing.Optional[types.FrameType]) -> None:
    raise Interrupted(signal.Signals(signum).name)


# -- the status table ------------------------------------------------------


def render(statuses: typing.List[InstanceStatus], started: float) -> str:
    """The table ``nova-vm-heartbeat status`` shows operators."""
    instances = sorted((wire.instance(s) for s in statuses),
                       key=lambda i: (i["name"], i["uuid"]))
    return "[%5.1f s]\n%s" % (time.monotonic() - started,
                              table.render(instances))


class Screen:
    """Redraws the table in place on a terminal; appends it otherwise."""

    def __init__(self) -> None:
        self.tty = sys.stdout.isatty()
        self._lines = 0

    def show(self, text: str) -> None:
        if self.tty and self._lines:
            sys.stdout.write("\x1b[%dF\x1b[J" % self._lines)
        sys.stdout.write(text + "\n")
        sys.stdout.flush()
        self._lines = text.count("\n") + 1 if self.tty else 0

    def leave(self) -> None:
        """The next output goes below the table."""
        self._lines = 0


# -- the demo --------------------------------------------------------------


class Demo:
    def __init__(self, image_dir: pathlib.Path, workdir: pathlib.Path):
        self.image_dir = image_dir
        self.workdir = workdir
        self.broker = RabbitMQ()
        self.broker_open = False
        self.monitor: typing.Optional[
            composition.Monitor[typing.Any, typing.Any]] = None
        self.guests: typing.Dict[str, guests.Guest] = {}
        self.connection: typing.Any = None
        self.screen = Screen()
        self.started = time.monotonic()

    # -- set-up ---------------------------------------------------------

    def image(self) -> domains.GuestImage:
        return host.install_image(self.image_dir, self.workdir / "image")

    def start_broker(self) -> None:
        say("RabbitMQ: using the broker on 127.0.0.1:5672, or starting a "
            "private one (tools/rabbitmq.sh; about 15 s)")
        self.broker.open_session()
        self.broker_open = True

    def start_monitor(self) -> None:
        config = self.workdir / "monitor.conf"
        config.write_text(
            "[DEFAULT]\ntransport_url = %s\nlog_file = %s\n"
            "[heartbeat_standalone]\nlibvirt_uri = qemu:///system\n"
            "host = %s\n"
            "[heartbeat_sink]\ndriver = messaging\noutbox_dir = %s\n"
            % (self.broker.url, self.workdir / "monitor.log", HOST,
               self.workdir / "outbox"))
        conf = cfg.ConfigOpts()
        monitor_cmd.configure(conf, ["--config-file", str(config)])
        say("starting the monitor (libvirt qemu:///system, notifications "
            "to RabbitMQ as nova-compute:%s)" % HOST)
        self.monitor = monitor_cmd.build(conf)
        self.monitor.start()

    def boot(self, image: domains.GuestImage) -> None:
        modules = guests.import_libvirt()
        self.connection = modules.libvirt.open(guests.URI)
        for name in GUESTS:
            spec = domains.DomainSpec(image=image, directory=self.workdir,
                                      display_name=name)
            guest = guests.Guest(modules, self.connection, spec)
            self.guests[name] = guest  # removed at the end, started or not
            guest.start()
            say("started %s: domain %s, uuid %s" % (name, spec.name,
                                                    spec.uuid))
        say("booting under TCG (no KVM): about 15 s to the first heartbeat")

    # -- the show -------------------------------------------------------

    def statuses(self) -> typing.List[InstanceStatus]:
        assert self.monitor is not None
        result: typing.List[InstanceStatus] = \
            self.monitor.service.statuses()
        return result

    def table_until(self, done: typing.Callable[[], bool],
                    timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while not done():
            self.screen.show(render(self.statuses(), self.started))
            if time.monotonic() > deadline:
                raise SystemExit("ERROR: %s did not happen within %g s; "
                                 "the monitor's log is %s" % (
                                     what, timeout,
                                     self.workdir / "monitor.log"))
            time.sleep(REFRESH)
        self.screen.show(render(self.statuses(), self.started))

    def all_healthy(self) -> bool:
        """Whether both of the demo's guests are healthy.

        Other domains of this host may be monitored too; they do not count.
        """
        ours = {g.spec.uuid for g in self.guests.values()}
        states = [s.status.state.value for s in self.statuses()
                  if s.uuid in ours]
        return len(states) == len(ours) and \
            all(state == "healthy" for state in states)

    def run(self, bus: hv_monitor.BusWatcher) -> None:
        self.table_until(self.all_healthy, BOOT_TIMEOUT,
                         "both guests healthy")
        shown = time.monotonic() + HEALTHY_SHOW
        self.table_until(lambda: time.monotonic() > shown, HEALTHY_SHOW + 5,
                         "")
        self.screen.leave()
        victim = self.guests[VICTIM]
        say("hanging %s: SIGSTOP to its heartbeat agent and qemu-ga "
            "(through guest-exec); the kernel runs on" % VICTIM)
        at = lab.BY_NAME[lab.HANG].inject(victim)
        arrived: typing.List[hv_monitor.Received] = []

        def notified() -> bool:
            arrived[:] = [r for r in bus.about(victim.spec.uuid)
                          if r.event_type == lab.LOST]
            return bool(arrived)

        self.table_until(notified, lab.NOTIFICATION_TIMEOUT,
                         "the heartbeat_lost notification")
        self.screen.leave()
        received = arrived[0]
        say("notification received on the bus %.2f s after the fault "
            "(publisher %s, event type %s):" % (
                received.arrived - at, received.publisher_id,
                received.event_type))
        print(json.dumps(received.payload, indent=2, sort_keys=True))
        shown = time.monotonic() + AFTER_SHOW
        self.table_until(lambda: time.monotonic() > shown, AFTER_SHOW + 5,
                         "")
        self.screen.leave()

    # -- clean-up -------------------------------------------------------

    def cleanup(self) -> None:
        for name, guest in self.guests.items():
            say("removing %s (destroy and undefine %s)" % (name,
                                                           guest.name))
            guest.remove()
        if self.connection is not None:
            self.connection.close()
        if self.monitor is not None:
            say("stopping the monitor")
            self.monitor.stop()
        if self.broker_open:
            self.broker_open = False
            self.broker.close_session()


def main(argv: typing.Optional[typing.Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("image_dir", type=pathlib.Path,
                        help="the cached guest image (build.py's output)")
    args = parser.parse_args(argv)
    workdir = pathlib.Path(tempfile.mkdtemp(prefix="hb-demo-", dir="/tmp"))
    workdir.chmod(0o755)  # QEMU (libvirt-qemu) reads the image here
    demo = Demo(args.image_dir, workdir)
    previous = {s: signal.signal(s, _interrupt)
                for s in (signal.SIGINT, signal.SIGTERM)}
    status = 0
    try:
        image = demo.image()
        demo.start_broker()
        demo.start_monitor()
        with hv_monitor.watching(demo.broker, workdir) as bus:
            demo.boot(image)
            demo.run(bus)
        say("done: the monitor saw the hang and said so on the bus")
    except Interrupted as why:
        demo.screen.leave()
        say("interrupted (%s): cleaning up" % why)
        status = 130
    except Exception:
        demo.screen.leave()
        traceback.print_exc()
        say("the demo failed (above); cleaning up")
        status = 1
    finally:
        # A second Ctrl-C must not cut the clean-up short.
        for signum in previous:
            signal.signal(signum, signal.SIG_IGN)
        try:
            demo.cleanup()
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)
            _keep_log(workdir)
    return status


def _keep_log(workdir: pathlib.Path) -> None:
    """Move the monitor's log to build/demo/; remove the work dir."""
    kept = TOP / "build" / "demo" / "monitor.log"
    kept.parent.mkdir(parents=True, exist_ok=True)
    if (workdir / "monitor.log").exists():
        shutil.move(str(workdir / "monitor.log"), kept)
        say("the monitor's log is in %s" % kept)
    shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
