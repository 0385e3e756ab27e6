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

"""``nova-vm-heartbeat-monitor``: the monitor, beside nova-compute.

It finds the instances to monitor through libvirt (the domains that carry
the heartbeat channel or the QEMU guest agent channel), judges them like
the monitor inside nova-compute does, and sends the same notifications
through the configured sink. It runs until SIGTERM or SIGINT, then stops
cleanly and exits 0; it exits 1 if it cannot start.
"""

from __future__ import annotations

import logging
import signal
import sys
import typing

from oslo_config import cfg
from oslo_log import log

from nova_vm_heartbeat import cmd
from nova_vm_heartbeat.cmd.signals import SignalWaiter
from nova_vm_heartbeat import composition
from nova_vm_heartbeat import conf as heartbeat_conf
from nova_vm_heartbeat.conf import standalone
from nova_vm_heartbeat import exception
from nova_vm_heartbeat import sinks
from nova_vm_heartbeat import version

if typing.TYPE_CHECKING:
    from nova_vm_heartbeat.runtime.service import MonitorService
    from nova_vm_heartbeat.sources.impl_libvirt import LibvirtSource

LOG = logging.getLogger(__name__)

PROJECT = "nova-vm-heartbeat"
PROG = "nova-vm-heartbeat-monitor"


def _version() -> str:
    return str(version.version_info.version_string())


def configure(conf: cfg.ConfigOpts,
              argv: typing.Sequence[str]) -> None:
    """Register the options, parse ``argv`` and the files, set up logs."""
    cmd.use_native_threads()
    # Imported only now: importing oslo_messaging must come after the
    # choice of threads above.
    from nova_vm_heartbeat.sinks import impl_messaging
    impl_messaging.set_defaults()
    log.register_options(conf)
    heartbeat_conf.register_opts(conf)
    conf(list(argv), project=PROJECT, prog=PROG, version=_version())
    log.setup(conf, PROJECT)


def describe_sink(conf: cfg.ConfigOpts) -> str:
    """Where notifications go, for the start-up log line."""
    group = conf.heartbeat_sink
    if group.driver == "messaging":
        return ("the message bus, topics %s (outbox %s, at most %d "
                "waiting)" % (", ".join(group.topics), group.outbox_dir,
                              group.outbox_max))
    return "the %r sink" % group.driver


def build(conf: cfg.ConfigOpts) -> composition.Monitor[
        MonitorService, LibvirtSource]:
    """The standalone monitor, built from the configuration.

    :raises InvalidConfiguration: see
        :func:`~nova_vm_heartbeat.composition.runtime_options`.
    :raises SinkNotFound, SinkLoadFailed: the sink cannot be loaded.
    """
    # Imported only now, after configure() chose the threads.
    from nova_vm_heartbeat.runtime import service
    from nova_vm_heartbeat.sources import impl_libvirt

    uri: str = conf.heartbeat_standalone.libvirt_uri
    options = composition.runtime_options(conf, standalone.host(conf),
                                          uri)
    sink = sinks.load(conf.heartbeat_sink.driver, conf)
    source = impl_libvirt.LibvirtSource(uri or "", options.defaults)
    return composition.Monitor(
        options=options, source=source, sink=sink,
        service=service.MonitorService(
            source, sink, options,
            endpoints=composition.endpoints(options)),
        socket_dir=conf.heartbeat.socket_dir,
        destination=describe_sink(conf))


class Program(typing.Protocol):
    """What :func:`serve` runs: made, started, and stopped on a signal."""

    def start(self) -> None:
        ...

    def stop(self) -> None:
        ...


def serve(make: typing.Callable[[], Program],
          waiter: typing.Optional[SignalWaiter] = None,
          logger: logging.Logger = LOG) -> int:
    """Make and start a program, wait for a signal, stop; the exit status.

    Shared by the console scripts that run until SIGTERM or SIGINT: 0
    after a clean stop (or a signal before the start), 1 if the program
    cannot be made or started. ``logger`` is the program's.
    """
    with waiter or SignalWaiter() as signals:
        if signals.received is not None:
            logger.info("Received %(signal)s before starting; not starting",
                        {"signal": signal.Signals(signals.received).name})
            return 0
        try:
            program = make()
        except exception.HeartbeatException as err:
            logger.error("Cannot start: %(err)s", {"err": err})
            return 1
        try:
            program.start()
        except exception.HeartbeatException as err:
            logger.error("Cannot start: %(err)s", {"err": err})
            program.stop()
            return 1
        signum = signals.wait()
        logger.info("Received %(signal)s, stopping",
                    {"signal": signal.Signals(signum).name})
        program.stop()
        logger.info("Stopped")
    return 0


def run(conf: cfg.ConfigOpts,
        waiter: typing.Optional[SignalWaiter] = None) -> int:
    """Start the monitor, wait for a signal, stop; the exit status."""
    return serve(lambda: build(conf), waiter)


def main(argv: typing.Optional[typing.Sequence[str]] = None,
         waiter: typing.Optional[SignalWaiter] = None) -> int:
    """The monitor's console script (through :mod:`.launch`).

    Signals are caught from the first instruction: a SIGTERM while the
    options are read and the logs set up stops the monitor cleanly.
    """
    with waiter or SignalWaiter() as signals:
        conf = cfg.ConfigOpts()
        configure(conf, sys.argv[1:] if argv is None else argv)
        return run(conf, waiter=signals)
