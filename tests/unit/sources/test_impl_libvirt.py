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

"""The standalone instance source, against a fake libvirt."""

from __future__ import annotations

import logging
import os
import sys
import typing

import pytest

from nova_vm_heartbeat import exception
from nova_vm_heartbeat.monitor.policy import Settings
from nova_vm_heartbeat.sources import impl_libvirt
from tests import fakelibvirt

DEFAULTS = Settings(interval=5.0)
U1 = "11111111-1111-4111-8111-111111111111"
U2 = "22222222-2222-4222-8222-222222222222"
U3 = "33333333-3333-4333-8333-333333333333"


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def fake() -> fakelibvirt.FakeLibvirt:
    libvirt = fakelibvirt.FakeLibvirt()
    libvirt.add_domain(U1, "instance-1", fakelibvirt.domain_xml(
        U1, "instance-1", "/run/hb/1.sock", qga=True, display_name="one"))
    libvirt.add_domain(U2, "instance-2", fakelibvirt.domain_xml(
        U2, "instance-2", "/run/hb/2.sock"),
        state=fakelibvirt.C.VIR_DOMAIN_PAUSED)
    libvirt.add_domain(U3, "plain", fakelibvirt.domain_xml(U3, "plain"))
    return libvirt


def source(fake: fakelibvirt.FakeLibvirt,
           clock: typing.Optional[Clock] = None,
           ) -> impl_libvirt.LibvirtSource:
    return impl_libvirt.LibvirtSource("qemu:///system", DEFAULTS,
                                      libvirt=fake, run_dir="/nonexistent",
                                      clock=clock or Clock())


def test_lists_the_domains_with_our_channel(
        fake: fakelibvirt.FakeLibvirt) -> None:
    found = {i.uuid: i for i in source(fake).instances()}
    assert sorted(found) == [U1, U2]
    one, two = found[U1], found[U2]
    assert (one.domain_name, one.display_name) == ("instance-1", "one")
    assert one.heartbeat_socket == "/run/hb/1.sock"
    assert one.settings.qga and one.settings.heartbeat
    assert one.settings.interval == 5.0
    assert one.running and not two.running
    assert one.uptime is None  # no pid file
    assert fake.opened == ["qemu:///system"]


def test_definitions_are_cached_until_the_domain_restarts(
        fake: fakelibvirt.FakeLibvirt) -> None:
    clock = Clock()
    src = source(fake, clock)
    src.instances()
    domain = fake.daemon.domains[U1]
    domain.xml = fakelibvirt.domain_xml(U1, "instance-1", "/run/hb/new.sock")
    assert {i.heartbeat_socket for i in src.instances()} \
        == {"/run/hb/1.sock", "/run/hb/2.sock"}
    domain.domain_id += 1  # restarted
    assert "/run/hb/new.sock" in {i.heartbeat_socket
                                  for i in src.instances()}
    domain.xml = fakelibvirt.domain_xml(U1, "instance-1", "/run/hb/3.sock")
    clock.now += impl_libvirt.XML_TTL
    assert "/run/hb/3.sock" in {i.heartbeat_socket for i in src.instances()}


def test_libvirtd_down_is_source_unavailable_then_reconnects(
        fake: fakelibvirt.FakeLibvirt) -> None:
    src = source(fake)
    src.instances()
    fake.stop_daemon()
    with pytest.raises(exception.SourceUnavailable) as info:
        src.instances()
    # The broken connection is dropped and a new one cannot be opened.
    assert "Failed to connect socket" in str(info.value)
    with pytest.raises(exception.SourceUnavailable):
        src.instances()
    fake.start_daemon()
    assert len(src.instances()) == 2
    assert len(fake.opened) == 2


def test_a_restart_between_two_looks_costs_no_look(
        fake: fakelibvirt.FakeLibvirt,
        caplog: pytest.LogCaptureFixture) -> None:
    src = source(fake)
    assert len(src.instances()) == 2
    fake.stop_daemon()
    fake.start_daemon()  # the connection learns of it at the next call
    with caplog.at_level(logging.INFO):
        assert len(src.instances()) == 2
    assert "failed (internal error: client socket is closed); " \
        "reconnecting" in caplog.text
    assert len(fake.opened) == 2


def test_a_domain_undefined_while_listing_is_skipped(
        fake: fakelibvirt.FakeLibvirt) -> None:
    class Vanishing(fakelibvirt.Domain):
        def XMLDesc(self, flags: int = 0) -> str:
            raise fakelibvirt.libvirtError("Domain not found",
                                           fakelibvirt.C.VIR_ERR_NO_DOMAIN)

    gone = fake.daemon.domains[U2]
    gone.__class__ = Vanishing
    assert [i.uuid for i in source(fake).instances()] == [U1]


def test_unreadable_xml_is_logged_once(
        fake: fakelibvirt.FakeLibvirt,
        caplog: pytest.LogCaptureFixture) -> None:
    fake.daemon.domains[U2].xml = "<domain><name>no uuid</name></domain>"
    fake.daemon.domains[U1].xml = fakelibvirt.domain_xml(
        U1, "instance-1", "/run/hb/1.sock", settings={"interval": "soon"})
    clock = Clock()
    src = source(fake, clock)
    with caplog.at_level(logging.WARNING):
        for _ in range(3):
            clock.now += impl_libvirt.XML_TTL
            found = src.instances()
    assert [i.uuid for i in found] == [U1]
    assert found[0].settings.interval == DEFAULTS.interval
    assert caplog.text.count("no <uuid>") == 1
    assert caplog.text.count("'soon'") == 1


def test_missing_bindings_are_source_unavailable(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "libvirt", None)  # import fails
    src = impl_libvirt.LibvirtSource("qemu:///system", DEFAULTS)
    with pytest.raises(exception.SourceUnavailable):
        src.instances()


def test_process_start_and_system_uptime(tmp_path: typing.Any) -> None:
    pid_file = tmp_path / "instance-1.pid"
    pid_file.write_text("%d\n" % os.getpid())
    started = impl_libvirt.process_start(str(pid_file))
    booted = impl_libvirt.system_uptime()
    assert started is not None and booted is not None
    uptime = booted - started
    assert 0 <= uptime < 24 * 3600 * 365
    pid_file.write_text("garbage")
    assert impl_libvirt.process_start(str(pid_file)) is None
    assert impl_libvirt.process_start(str(tmp_path / "none.pid")) is None


def test_a_look_costs_libvirtd_two_calls_whatever_the_domains(
        fake: fakelibvirt.FakeLibvirt) -> None:
    """No call per domain for its state: two lists say what runs."""
    class NoStateCall(fakelibvirt.Domain):
        def state(self, flags: int = 0) -> typing.List[int]:
            raise AssertionError("a libvirtd call per domain")

    for domain in fake.daemon.domains.values():
        domain.__class__ = NoStateCall
    src = source(fake)
    for _ in range(2):
        found = {i.uuid: i.running for i in src.instances()}
        assert found == {U1: True, U2: False}
    fake.daemon.domains[U2].run_state = fakelibvirt.C.VIR_DOMAIN_RUNNING
    assert {i.uuid: i.running for i in src.instances()} \
        == {U1: True, U2: True}


def test_the_qemu_start_is_read_once_per_process(
        fake: fakelibvirt.FakeLibvirt,
        monkeypatch: pytest.MonkeyPatch) -> None:
    reads: typing.List[str] = []
    booted = [1000.0]

    def process_start(pid_file: str) -> float:
        reads.append(os.path.basename(pid_file))
        return 400.0 + 100 * len(reads)

    monkeypatch.setattr(impl_libvirt, "process_start", process_start)
    monkeypatch.setattr(impl_libvirt, "system_uptime", lambda: booted[0])
    clock = Clock()
    src = source(fake, clock)

    def uptimes() -> typing.Dict[str, typing.Optional[float]]:
        return {i.uuid: i.uptime for i in src.instances()}

    assert uptimes() == {U1: 500.0, U2: None}  # U2 is paused
    booted[0] += 10
    clock.now += impl_libvirt.XML_TTL  # the XML is read again, not this
    assert uptimes() == {U1: 510.0, U2: None}
    assert reads == ["instance-1.pid"]
    fake.daemon.domains[U1].domain_id += 1  # a new QEMU process
    assert uptimes() == {U1: 410.0, U2: None}
    fake.daemon.domains[U2].run_state = fakelibvirt.C.VIR_DOMAIN_RUNNING
    assert uptimes() == {U1: 410.0, U2: 310.0}
    assert reads == ["instance-1.pid", "instance-1.pid", "instance-2.pid"]


def test_an_unreadable_start_is_no_uptime_and_read_again(
        fake: fakelibvirt.FakeLibvirt,
        monkeypatch: pytest.MonkeyPatch) -> None:
    starts: typing.List[typing.Optional[float]] = [None, 900.0]
    monkeypatch.setattr(impl_libvirt, "process_start",
                        lambda pid_file: starts.pop(0))
    monkeypatch.setattr(impl_libvirt, "system_uptime", lambda: 1000.0)
    src = source(fake)
    assert {i.uuid: i.uptime for i in src.instances()}[U1] is None
    assert {i.uuid: i.uptime for i in src.instances()}[U1] == 100.0
