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

import dataclasses
import logging
import signal
import sys
import typing

from oslo_config import cfg
from oslo_log import log

from nova_vm_heartbeat import cmd
from nova_vm_heartbeat.cmd.signals import SignalWaiter
from nova_vm_heartbeat import conf as heartbeat_conf
from nova_vm_heartbeat.conf import standalone
from nova_vm_heartbeat.conf import values
from nova_vm_heartbeat import exception
from nova_vm_heartbeat.monitor.policy import Settings
from nova_vm_heartbeat.runtime.options import RuntimeOptions
from nova_vm_heartbeat import sinks
from nova_vm_heartbeat.sources.base import InstanceSource
from nova_vm_heartbeat import version

LOG = logging.getLogger(__name__)

PROJECT = "nova-vm-heartbeat"
PROG = "nova-vm-heartbeat-monitor"

#: How long the service may take to stop, in seconds.
STOP_TIMEOUT = 1.0


class Service(typing.Protocol):
    """What this program needs of ``runtime.service.MonitorService``."""

    def start(self) -> None:
        ...

    def stop(self, timeout: float = 1.0) -> None:
        ...


SourceFactory = typing.Callable[[str, Settings], InstanceSource]
SinkFactory = typing.Callable[[str, cfg.ConfigOpts], sinks.Sink]
ServiceFactory = typing.Callable[
    [InstanceSource, sinks.Sink, RuntimeOptions], Service]


@dataclasses.dataclass(frozen=True)
class Factories:
    """How the parts are made; tests give doubles."""

    source: SourceFactory
    service: ServiceFactory
    sink: SinkFactory = sinks.load


def _libvirt_source(uri: str, defaults: Settings) -> InstanceSource:
    from nova_vm_heartbeat.sources import impl_libvirt
    return impl_libvirt.LibvirtSource(uri, defaults)


def _monitor_service(source: InstanceSource, sink: sinks.Sink,
                     options: RuntimeOptions) -> Service:
    from nova_vm_heartbeat.runtime import service
    return service.MonitorService(source, sink, options)


REAL = Factories(source=_libvirt_source, service=_monitor_service)


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


class Monitor:
    """The parts of the standalone monitor.

    The service owns the threads: it starts and stops the sink, and runs
    the libvirt event feed; the source's connection is closed here.
    The monitor inside nova-compute is built by a subclass
    (``nova_vm_heartbeat.virt.assembly``) that overrides where the host
    name, the libvirt URI and the sink's description come from.
    """

    def __init__(self, conf: cfg.ConfigOpts,
                 factories: Factories = REAL):
        self.uri: typing.Optional[str] = self.libvirt_uri(conf)
        self.options = values.runtime_options(conf, self.host(conf),
                                              self.uri)
        self.socket_dir: str = conf.heartbeat.socket_dir
        self.destination = self.describe_sink(conf)
        self.sink = factories.sink(conf.heartbeat_sink.driver, conf)
        self.source = factories.source(self.uri or "", self.options.defaults)
        self.service = factories.service(self.source, self.sink,
                                         self.options)

    def host(self, conf: cfg.ConfigOpts) -> str:
        """This compute host's name (the notifications' publisher)."""
        return standalone.host(conf)

    def libvirt_uri(self, conf: cfg.ConfigOpts) -> typing.Optional[str]:
        """The libvirt connection; None runs without libvirt."""
        uri: str = conf.heartbeat_standalone.libvirt_uri
        return uri

    def describe_sink(self, conf: cfg.ConfigOpts) -> str:
        """Where notifications go, for the start-up log line."""
        return describe_sink(conf)

    def start(self) -> None:
        LOG.info("Monitoring the instances of host %(host)s through "
                 "libvirt at %(uri)s (heartbeat sockets in %(dir)s); "
                 "notifications go to %(dest)s",
                 {"host": self.options.host, "uri": self.uri,
                  "dir": self.socket_dir, "dest": self.destination})
        self.service.start()

    def stop(self) -> None:
        try:
            self.service.stop(timeout=STOP_TIMEOUT)
        finally:
            self.source.close()


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


def run(conf: cfg.ConfigOpts, factories: typing.Optional[Factories] = None,
        waiter: typing.Optional[SignalWaiter] = None) -> int:
    """Start the monitor, wait for a signal, stop; the exit status."""
    return serve(lambda: Monitor(conf, factories or REAL), waiter)


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
