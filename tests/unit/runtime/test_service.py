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

"""The monitor service as a whole, without libvirt or guests."""

from __future__ import annotations

import logging
import pathlib
import socket
import subprocess
import sys
import textwrap
import threading
import time
import typing

import pytest

from nova_vm_heartbeat import exception
from nova_vm_heartbeat.monitor.machine import MonitorState
from nova_vm_heartbeat.monitor import signals as sig
from nova_vm_heartbeat.notifications.payload import Notification
from nova_vm_heartbeat import protocol
from nova_vm_heartbeat.runtime.channel import ChannelState
from nova_vm_heartbeat.runtime.options import RuntimeOptions
from nova_vm_heartbeat.runtime.service import MonitorService
from nova_vm_heartbeat.sinks.base import Sink
from nova_vm_heartbeat.sources.base import InstanceInfo
from nova_vm_heartbeat.sources.base import InstanceSource
from tests.unit.runtime import fakes

REPO_ROOT = pathlib.Path(__file__).resolve().parents[3]
OPTIONS = RuntimeOptions(host="compute-1", bounds=fakes.BOUNDS,
                         defaults=fakes.SETTINGS, refresh_interval=0.05,
                         libvirt_uri=None)


class ListSink(Sink):
    def __init__(self) -> None:
        self.started = self.stopped = False
        self.sent: typing.List[Notification] = []

    def start(self) -> None:
        self.started = True

    def stop(self) -> None:
        self.stopped = True

    def send(self, notification: Notification) -> None:
        self.sent.append(notification)


class ListSource(InstanceSource):
    def __init__(self, infos: typing.List[InstanceInfo]) -> None:
        self.infos = infos
        self.error: typing.Optional[Exception] = None
        self.calls = 0

    def instances(self) -> typing.List[InstanceInfo]:
        self.calls += 1
        if self.error is not None:
            raise self.error
        return list(self.infos)


def wait_for(condition: typing.Callable[[], typing.Any],
             timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


@pytest.fixture
def started() -> typing.Iterator[typing.List[MonitorService]]:
    services: typing.List[MonitorService] = []
    try:
        yield services
    finally:
        for service in services:
            began = time.monotonic()
            service.stop()
            assert time.monotonic() - began < 1.0


def make(started: typing.List[MonitorService], infos: typing.List[
        InstanceInfo], **kwargs: typing.Any) -> typing.Tuple[
        MonitorService, ListSource, ListSink]:
    source, sink = ListSource(infos), ListSink()
    service = MonitorService(source, sink, kwargs.pop("options", OPTIONS),
                             **kwargs)
    started.append(service)
    service.start()
    return service, source, sink


def test_runs_without_libvirt(started: typing.List[MonitorService],
                              tmp_path: pathlib.Path) -> None:
    info = fakes.info("a", socket=str(tmp_path / "absent.sock"))
    service, source, sink = make(started, [info])
    assert sink.started
    wait_for(lambda: len(service.statuses()) == 1)
    status, = service.statuses()
    assert status.channel is not None
    assert status.channel.state is ChannelState.WAITING
    assert [c.channel for c in status.status.channels] \
        == [sig.Channel.HEARTBEAT]
    wait_for(lambda: source.calls >= 3)  # refreshed periodically


def test_missing_libvirt_bindings_only_disable_libvirt(
        started: typing.List[MonitorService],
        monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setitem(sys.modules, "libvirt", None)
    options = RuntimeOptions(host="h", libvirt_uri="qemu:///system",
                             refresh_interval=0.05)
    service, _, _ = make(started, [fakes.info("a")], options=options)
    assert "bindings are not installed" in caplog.text
    wait_for(lambda: len(service.statuses()) == 1)


def test_an_unavailable_source_keeps_what_was_known(
        started: typing.List[MonitorService],
        caplog: pytest.LogCaptureFixture) -> None:
    service, source, _ = make(started, [fakes.info("a")])
    wait_for(lambda: len(service.statuses()) == 1)
    calls = source.calls
    with caplog.at_level(logging.INFO):
        source.error = exception.SourceUnavailable(reason="conductor away")
        wait_for(lambda: source.calls > calls + 3)
        assert len(service.statuses()) == 1
        source.error = RuntimeError("a bug")
        wait_for(lambda: source.calls > calls + 6)
        source.error = None
        source.infos = []
        wait_for(lambda: service.statuses() == [])
    assert caplog.text.count("conductor away") == 1
    assert caplog.text.count("answers again") == 1


def test_post_is_thread_safe_and_never_blocks(
        started: typing.List[MonitorService]) -> None:
    service, _, _ = make(started, [fakes.info("a", socket="")],
                         options=RuntimeOptions(
                             host="h", libvirt_uri=None,
                             defaults=fakes.SETTINGS,
                             refresh_interval=0.05))
    event = sig.DomainEvent(sig.Lifecycle.PAUSED)

    def hammer() -> None:
        for _ in range(2000):
            service.post("a", event)
            service.post("unknown", event)

    threads = [threading.Thread(target=hammer) for _ in range(4)]
    began = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert time.monotonic() - began < 5.0
    assert service.statuses() == []  # no heartbeat socket, no QGA


class JumpingClock:
    """The monotonic clock, plus jumps the test makes (a stalled host)."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.monotonic() + self.offset


class Guest(threading.Thread):
    """A minimal guest agent on a listening socket: answers challenges."""

    def __init__(self, path: str) -> None:
        super().__init__(daemon=True)
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.listener.bind(path)
        self.listener.listen(1)
        self.listener.settimeout(5.0)
        self.stop = threading.Event()
        #: While set, challenges go unanswered.
        self.mute = threading.Event()

    def run(self) -> None:
        with self.listener:
            sock, _ = self.listener.accept()
        sock.settimeout(0.1)
        conn = protocol.Connection(protocol.GUEST, clock=time.monotonic)
        with sock:
            try:
                sock.sendall(conn.send(protocol.Hello(
                    version=1, min_version=1, agent="t", agent_version="1")))
                while not self.stop.is_set():
                    self._serve(sock, conn)
            except OSError:
                pass  # the runtime went away

    def _serve(self, sock: socket.socket,
               conn: protocol.Connection) -> None:
        try:
            data = sock.recv(65536)
        except socket.timeout:
            return
        conn.receive_data(data)
        while True:
            event = conn.next_event()
            if event is protocol.NEED_DATA or not data:
                return
            if isinstance(event, protocol.Resync):
                sock.sendall(conn.send(protocol.Hello(
                    version=1, min_version=1, agent="t", agent_version="1")))
            elif isinstance(event, protocol.Challenge) \
                    and not self.mute.is_set():
                sock.sendall(conn.send(protocol.Response(
                    seq=event.seq, nonce=event.nonce,
                    health=protocol.Health.OK)))


def test_a_stalled_loop_forgives_every_monitor(
        started: typing.List[MonitorService], tmp_path: pathlib.Path,
        caplog: pytest.LogCaptureFixture) -> None:
    guest = Guest(str(tmp_path / "hb.sock"))
    guest.start()
    try:
        clock = JumpingClock()
        service, _, sink = make(started, [fakes.info(
            "a", socket=str(tmp_path / "hb.sock"))], clock=clock)
        wait_for(lambda: [s.status.state for s in service.statuses()]
                 == [MonitorState.HEALTHY])
        guest.mute.set()
        time.sleep(1.2)  # a challenge goes unanswered...
        clock.offset += 30.0  # ... and nothing ran for 30 s
        wait_for(lambda: service.stalls == 1)
        time.sleep(0.5)
        guest.mute.clear()
        time.sleep(1.5)
        assert "ran 3" in caplog.text and "forgives" in caplog.text
        assert sink.sent == []
        assert [s.status.state for s in service.statuses()] \
            == [MonitorState.HEALTHY]
    finally:
        guest.stop.set()
        guest.join(5.0)


def test_statuses_from_another_thread_and_after_stop(
        started: typing.List[MonitorService]) -> None:
    service, _, _ = make(started, [fakes.info("a")])
    wait_for(lambda: len(service.statuses()) == 1)
    service.stop()
    assert service.statuses() == []
    with pytest.raises(RuntimeError):
        service.start()


def test_importing_the_runtime_needs_no_libvirt() -> None:
    probe = textwrap.dedent("""
        import sys
        sys.modules["libvirt"] = None
        sys.modules["libvirt_qemu"] = None
        import nova_vm_heartbeat.runtime.service
        import nova_vm_heartbeat.sources.impl_libvirt
        loaded = [m for m in sys.modules if m.startswith("libvirt")]
        assert all(sys.modules[m] is None for m in loaded), loaded
        print("ok")
    """)
    result = subprocess.run([sys.executable, "-c", probe], cwd=REPO_ROOT,
                            capture_output=True, text=True, timeout=60,
                            check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"
