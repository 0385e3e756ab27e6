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

"""The standalone monitor's wiring, with doubles for the runtime's parts."""

from __future__ import annotations

import logging
import os
import pathlib
import signal
import subprocess
import sys
import threading
import typing

from oslo_config import cfg
import pytest

from nova_vm_heartbeat.cmd import monitor
from nova_vm_heartbeat.cmd import signals
from nova_vm_heartbeat import composition
from nova_vm_heartbeat import exception
from nova_vm_heartbeat.monitor.policy import Settings
from nova_vm_heartbeat.notifications.payload import Notification
from nova_vm_heartbeat.runtime.options import RuntimeOptions
from nova_vm_heartbeat.runtime import service
from nova_vm_heartbeat import sinks
from nova_vm_heartbeat.sinks import base
from nova_vm_heartbeat.sources.base import InstanceInfo
from nova_vm_heartbeat.sources.base import InstanceSource
from nova_vm_heartbeat.sources import impl_libvirt

Events = typing.List[str]


class FakeSource(InstanceSource):
    def __init__(self, events: Events, uri: str, defaults: Settings):
        self.events, self.uri, self.defaults = events, uri, defaults

    def instances(self) -> typing.List[InstanceInfo]:
        return []

    def close(self) -> None:
        self.events.append("source.close")


class FakeSink(base.Sink):
    def __init__(self, events: Events, name: str, conf: cfg.ConfigOpts):
        self.events, self.name, self.conf = events, name, conf

    def start(self) -> None:
        self.events.append("sink.start")

    def stop(self) -> None:
        self.events.append("sink.stop")

    def send(self, notification: Notification) -> None:
        pass


class FakeService:
    """Starts and stops the sink, as ``MonitorService`` does."""

    fail_start: typing.Optional[Exception] = None

    def __init__(self, events: Events, source: InstanceSource,
                 sink: base.Sink, options: RuntimeOptions,
                 endpoints: typing.Sequence[typing.Any] = ()):
        self.events, self.endpoints = events, endpoints
        self.source, self.sink, self.options = source, sink, options

    def start(self) -> None:
        self.events.append("service.start")
        self.sink.start()
        if self.fail_start is not None:
            raise self.fail_start

    def stop(self, timeout: float = 1.0) -> None:
        self.events.append("service.stop(%s)" % timeout)
        self.sink.stop()


class Parts:
    """Doubles for the parts :func:`monitor.build` makes, remembered."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch,
                 sink: bool = True) -> None:
        self.events: Events = []
        self.made: typing.Dict[str, typing.Any] = {}
        monkeypatch.setattr(impl_libvirt, "LibvirtSource", self.source)
        monkeypatch.setattr(service, "MonitorService", self.service)
        if sink:
            monkeypatch.setattr(sinks, "load", self.sink)

    def source(self, uri: str, defaults: Settings) -> FakeSource:
        made = self.made["source"] = FakeSource(self.events, uri, defaults)
        return made

    def sink(self, name: str, conf: cfg.ConfigOpts) -> FakeSink:
        made = self.made["sink"] = FakeSink(self.events, name, conf)
        return made

    def service(self, source: InstanceSource, sink: base.Sink,
                options: RuntimeOptions,
                endpoints: typing.Sequence[typing.Any] = ()) -> FakeService:
        made = self.made["service"] = FakeService(self.events, source, sink,
                                                  options, endpoints)
        return made


class ImmediateSignal(signals.SignalWaiter):
    """A SIGTERM that has already arrived."""

    def wait(self) -> int:
        return signal.SIGTERM


@pytest.fixture
def config_file(tmp_path: pathlib.Path) -> pathlib.Path:
    path = tmp_path / "nova-vm-heartbeat.conf"
    path.write_text(
        "[heartbeat]\ninterval = 2.0\nrefresh_interval = 3.0\n"
        "[heartbeat_sink]\ndriver = log\n"
        "[heartbeat_standalone]\nhost = compute-5\n"
        "libvirt_uri = test:///default\n")
    return path


@pytest.fixture
def conf(config_file: pathlib.Path) -> cfg.ConfigOpts:
    conf = cfg.ConfigOpts()
    monitor.configure(conf, ["--config-file", str(config_file)])
    return conf


def test_configure_reads_the_file(conf):
    assert conf.heartbeat.interval == 2.0
    assert conf.heartbeat_sink.driver == "log"
    assert conf.heartbeat_standalone.host == "compute-5"
    assert "debug" in conf  # oslo.log's options


def test_wiring(conf, monkeypatch):
    parts = Parts(monkeypatch)
    assert monitor.run(conf, ImmediateSignal()) == 0
    source, sink, service = (parts.made[k]
                             for k in ("source", "sink", "service"))
    assert source.uri == "test:///default"
    assert source.defaults == Settings(interval=2.0)
    assert (sink.name, sink.conf) == ("log", conf)
    assert service.source is source and service.sink is sink
    assert service.options.host == "compute-5"
    assert service.options.libvirt_uri == "test:///default"
    assert service.options.refresh_interval == 3.0
    assert service.options.defaults == source.defaults
    assert len(service.endpoints) == 1  # the admin socket, on by default
    assert parts.events == ["service.start", "sink.start",
                            "service.stop(1.0)", "sink.stop",
                            "source.close"]


def test_start_is_logged(conf, caplog, monkeypatch):
    Parts(monkeypatch)
    with caplog.at_level(logging.INFO):
        monitor.run(conf, ImmediateSignal())
    assert ("Monitoring the instances of host compute-5 through libvirt "
            "at test:///default (heartbeat sockets in "
            "/var/lib/libvirt/qemu); notifications go to the 'log' sink"
            in caplog.text)
    assert "Received SIGTERM, stopping" in caplog.text
    [started] = [r for r in caplog.records
                 if r.message.startswith("Monitoring the instances")]
    assert started.name == composition.__name__


def test_describe_the_messaging_sink(conf):
    conf.set_override("driver", "messaging", group="heartbeat_sink")
    assert monitor.describe_sink(conf) == (
        "the message bus, topics versioned_notifications (outbox "
        "/var/lib/nova-vm-heartbeat/outbox, at most 10000 waiting)")


def test_unknown_sink_exits_1(conf, caplog, monkeypatch):
    conf.set_override("driver", "carrier-pigeon", group="heartbeat_sink")
    parts = Parts(monkeypatch, sink=False)
    with caplog.at_level(logging.ERROR, logger=monitor.__name__):
        assert monitor.run(conf, ImmediateSignal()) == 1
    assert "No notification sink named 'carrier-pigeon'" in caplog.text
    assert parts.events == []


def test_invalid_bounds_exit_1(conf, caplog, monkeypatch):
    conf.set_override("min_interval", 500.0, group="heartbeat")
    parts = Parts(monkeypatch)
    with caplog.at_level(logging.ERROR, logger=monitor.__name__):
        assert monitor.run(conf, ImmediateSignal()) == 1
    assert "min_interval" in caplog.text
    assert parts.made == {}


def test_failed_start_cleans_up(conf, caplog, monkeypatch):
    parts = Parts(monkeypatch)
    FakeService.fail_start = exception.SourceUnavailable(reason="no libvirt")
    try:
        with caplog.at_level(logging.ERROR, logger=monitor.__name__):
            assert monitor.run(conf, ImmediateSignal()) == 1
    finally:
        FakeService.fail_start = None
    assert "Cannot start: Cannot list the instances" in caplog.text
    assert parts.events == ["service.start", "sink.start",
                            "service.stop(1.0)", "sink.stop",
                            "source.close"]


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_signal_waiter(signum):
    before = signal.getsignal(signum)
    timer = threading.Timer(0.1, os.kill, (os.getpid(), signum))
    with signals.SignalWaiter() as waiter:
        timer.start()
        assert waiter.wait() == signum
    timer.join()
    assert signal.getsignal(signum) is before


def test_main_stops_on_sigterm(config_file, monkeypatch):
    parts = Parts(monkeypatch)
    timer = threading.Timer(0.2, os.kill, (os.getpid(), signal.SIGTERM))
    timer.start()
    assert monitor.main(["--config-file", str(config_file)]) == 0
    timer.join()
    assert parts.events[-1] == "source.close"


def test_version(capsys):
    with pytest.raises(SystemExit) as caught:
        monitor.main(["--version"])
    assert caught.value.code == 0
    assert capsys.readouterr().out.strip()


def test_signal_waiters_nest() -> None:
    before = signal.getsignal(signal.SIGTERM)
    waiter = signals.SignalWaiter()
    with waiter:
        with waiter:
            handler = signal.getsignal(signal.SIGTERM)
        assert signal.getsignal(signal.SIGTERM) is handler  # still ours
    assert signal.getsignal(signal.SIGTERM) is before


def test_a_signal_before_the_start_starts_nothing(conf, monkeypatch):
    parts = Parts(monkeypatch)
    waiter = signals.SignalWaiter()
    with waiter:
        os.kill(os.getpid(), signal.SIGTERM)
        assert waiter.wait() == signal.SIGTERM
        assert monitor.run(conf, waiter) == 0
    assert parts.events == []


def test_the_console_scripts_do_not_import_eventlet(
        config_file: pathlib.Path) -> None:
    # futurist and oslo.utils import eventlet if they can, and eventlet
    # warns of its deprecation when imported: at every start, before.
    code = ("import sys\n"
            "from nova_vm_heartbeat.cmd import launch\n"
            "launch.monitor(['--config-file', sys.argv[1], '--version'])\n")
    result = subprocess.run(
        [sys.executable, "-W", "always", "-c", code, str(config_file)],
        capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    assert "Eventlet is deprecated" not in result.stderr
