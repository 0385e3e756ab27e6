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

"""The runtime against real sockets and real guest agent processes."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

import pytest

from nova_vm_heartbeat.monitor.machine import MonitorState as S
from nova_vm_heartbeat.runtime import channel
from tests import fakelibvirt
from tests.functional.guest import harness
from tests.functional.runtime import conftest as cf


def test_heartbeats_flow_and_the_instance_becomes_healthy(
        guests: cf.GuestFactory, service: cf.ServiceFactory,
        sink: cf.CollectingSink) -> None:
    guest = guests()
    monitor = service()
    cf.wait_state(monitor, guest.uuid, S.HEALTHY)
    time.sleep(2.5)
    status = {s.uuid: s for s in monitor.statuses()}[guest.uuid]
    assert status.status.state is S.HEALTHY
    assert status.domain_name == guest.name
    assert status.display_name == "guest-0"
    channels = {c.channel.value: c for c in status.status.channels}
    assert channels["heartbeat"].usable and channels["qga"].usable
    assert channels["heartbeat"].rtt is not None
    assert status.status.violations == 0
    assert sink.received == []
    assert guest.domain.qga.calls >= 2


def _lost_after_sigstop(guest: cf.Guest, monitor, sink: cf.CollectingSink,
                        fault: str) -> float:
    """SIGSTOP the agent; the latency of the one heartbeat_lost verdict."""
    cf.wait_state(monitor, guest.uuid, S.HEALTHY)
    assert guest.agent is not None
    stopped_at = time.monotonic()
    guest.agent.signal(signal.SIGSTOP)
    at, notification = sink.wait(guest.uuid, cf.LOST)
    latency = at - stopped_at
    data = notification.payload["nova_object.data"]
    print("heartbeat_lost (%s) %.3f s after SIGSTOP" % (fault, latency))
    assert data["fault_class"] == fault
    assert notification.publisher_id == "nova-compute:compute-1"
    limit = cf.SETTINGS.interval * cf.SETTINGS.failure_threshold + 0.5
    assert latency <= limit
    time.sleep(2.0)
    assert len(sink.of(guest.uuid, cf.LOST)) == 1
    assert len(sink.of(guest.uuid)) == 1
    return latency


def test_sigstop_is_an_agent_failure_when_qga_answers(
        guests: cf.GuestFactory, service: cf.ServiceFactory,
        sink: cf.CollectingSink) -> None:
    guest = guests()
    monitor = service()
    _lost_after_sigstop(guest, monitor, sink, "agent_failure")
    assert guest.agent is not None
    resumed_at = time.monotonic()
    guest.agent.signal(signal.SIGCONT)
    at, notification = sink.wait(guest.uuid, cf.RESTORED)
    print("heartbeat_restored %.3f s after SIGCONT" % (at - resumed_at))
    data = notification.payload["nova_object.data"]
    assert data["fault_class"] == "agent_failure"
    assert data["episode"] == 1
    cf.wait_state(monitor, guest.uuid, S.HEALTHY)


def test_sigstop_is_a_hung_guest_when_qga_hangs_and_vcpus_run(
        guests: cf.GuestFactory, service: cf.ServiceFactory,
        sink: cf.CollectingSink) -> None:
    guest = guests(cpu_rate=0.2)
    monitor = service()
    cf.wait_state(monitor, guest.uuid, S.HEALTHY)
    guest.domain.qga.mode = "hang"
    _lost_after_sigstop(guest, monitor, sink, "guest_hung")
    guest.domain.qga.mode = "answer"
    assert guest.agent is not None
    guest.agent.signal(signal.SIGCONT)
    sink.wait(guest.uuid, cf.RESTORED)


def test_a_stopped_qemu_is_a_frozen_vm(
        guests: cf.GuestFactory, service: cf.ServiceFactory,
        sink: cf.CollectingSink) -> None:
    """QEMU stopped: both channels silent and no vCPU time.

    The fake's bulk statistics block meanwhile, as real libvirt's do; the
    per-domain ones do not.
    """
    guest = guests(cpu_rate=0.2)
    monitor = service()
    cf.wait_state(monitor, guest.uuid, S.HEALTHY)
    guest.domain.qga.mode = "hang"
    guest.domain.stop_qemu()
    try:
        _lost_after_sigstop(guest, monitor, sink, "vm_frozen")
    finally:
        guest.domain.qga.mode = "answer"
        guest.domain.cont_qemu()
    assert guest.agent is not None
    guest.agent.signal(signal.SIGCONT)
    sink.wait(guest.uuid, cf.RESTORED)


def _rss_kib() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def test_a_hostile_guest_costs_bounded_cpu_and_memory(
        guests: cf.GuestFactory, service: cf.ServiceFactory,
        sink: cf.CollectingSink) -> None:
    healthy = [guests() for _ in range(3)]
    hostile = guests(agent=False)
    monitor = service()
    for guest in healthy:
        cf.wait_state(monitor, guest.uuid, S.HEALTHY)
    cf.wait_for(lambda: hostile.relay.connected("host"), what="connect")
    seconds = 6.0
    cpu_before, rss_before = monitor.cpu_time, _rss_kib()
    started = time.monotonic()
    flood = subprocess.Popen(
        [sys.executable, "-m", "tests.functional.runtime.hostile",
         hostile.relay.paths["guest"], str(seconds)],
        env=harness.environment(), cwd=str(harness.REPO_ROOT))
    try:
        flood.wait(seconds + cf.WAIT)
    finally:
        flood.kill()
    elapsed = time.monotonic() - started
    time.sleep(0.6)  # the loop records its CPU time every iteration
    cpu = monitor.cpu_time - cpu_before
    rss_growth = _rss_kib() - rss_before
    budget = cf.OPTIONS.read_budget
    statuses = {s.uuid: s for s in monitor.statuses()}
    evil = statuses[hostile.uuid]
    assert evil.channel is not None
    counters = evil.channel.counters
    print("hostile guest: monitor thread used %.3f s CPU in %.1f s "
          "(%.1f%% of one core); read %d KiB (budget %d KiB/s), paused %d "
          "times; RSS grew %d KiB; %d violations counted: %s"
          % (cpu, elapsed, 100 * cpu / elapsed, counters.bytes_in // 1024,
             budget // 1024, counters.throttled, rss_growth,
             evil.status.violations, evil.channel.violations))
    assert hostile.relay.connects["guest"] > 3  # it did reconnect
    assert evil.status.violations > 0
    assert counters.throttled > 0
    assert counters.bytes_in <= budget * (elapsed + 4)
    assert evil.channel.buffered_bytes <= (
        cf.OPTIONS.limits.max_buffer_bytes + channel.MAX_OUTGOING)
    assert cpu / elapsed < 0.25
    assert rss_growth < 20 * 1024
    for guest in healthy:
        assert statuses[guest.uuid].status.state is S.HEALTHY
        assert sink.of(guest.uuid) == []


def test_qemu_restart_is_reconnected_without_a_verdict(
        guests: cf.GuestFactory, service: cf.ServiceFactory,
        sink: cf.CollectingSink, fake: fakelibvirt.FakeLibvirt) -> None:
    guest = guests()
    monitor = service()
    cf.wait_state(monitor, guest.uuid, S.HEALTHY)
    # QEMU goes: libvirt says so, the sockets vanish.
    fake.fire_lifecycle(guest.uuid, fake.VIR_DOMAIN_EVENT_STOPPED,
                        fake.VIR_DOMAIN_EVENT_STOPPED_SHUTDOWN)
    guest.domain.run_state = fake.VIR_DOMAIN_SHUTOFF
    guest.relay.stop()
    cf.wait_state(monitor, guest.uuid, S.INACTIVE)
    time.sleep(1.5)
    # ... and comes back: new sockets at the same paths.
    guest.relay.start()
    guest.domain.run_state = fake.VIR_DOMAIN_RUNNING
    fake.fire_lifecycle(guest.uuid, fake.VIR_DOMAIN_EVENT_STARTED,
                        fake.VIR_DOMAIN_EVENT_STARTED_BOOTED)
    back = time.monotonic()
    cf.wait_state(monitor, guest.uuid, S.HEALTHY)
    print("healthy again %.2f s after QEMU came back"
          % (time.monotonic() - back))
    assert guest.relay.connects["host"] == 2
    assert sink.of(guest.uuid) == []


def test_socket_vanishing_without_events_is_reconnected(
        guests: cf.GuestFactory, service: cf.ServiceFactory,
        sink: cf.CollectingSink) -> None:
    guest = guests()
    monitor = service()
    cf.wait_state(monitor, guest.uuid, S.HEALTHY)
    guest.relay.stop()
    time.sleep(0.3)
    guest.relay.start()
    cf.wait_for(lambda: guest.relay.connects["host"] == 2,
                what="the runtime reconnecting")
    cf.wait_state(monitor, guest.uuid, S.HEALTHY)


def test_a_domain_vanishing_during_a_qga_call_is_survived(
        guests: cf.GuestFactory, service: cf.ServiceFactory,
        sink: cf.CollectingSink, fake: fakelibvirt.FakeLibvirt,
        caplog: pytest.LogCaptureFixture) -> None:
    steady, doomed = guests(), guests()
    monitor = service()
    cf.wait_state(monitor, doomed.uuid, S.HEALTHY)
    doomed.domain.qga.mode = "vanish"
    cf.wait_for(lambda: cf.state_of(monitor, doomed.uuid) is None,
                what="the vanished domain being dropped")
    assert "domain_not_running" in caplog.text
    assert sink.of(doomed.uuid) == []
    time.sleep(1.5)
    assert cf.state_of(monitor, steady.uuid) == S.HEALTHY.value
    assert sink.received == []


def test_a_libvirtd_restart_is_logged_and_survived(
        guests: cf.GuestFactory, service: cf.ServiceFactory,
        sink: cf.CollectingSink, fake: fakelibvirt.FakeLibvirt,
        caplog: pytest.LogCaptureFixture) -> None:
    guest = guests()
    monitor = service()
    cf.wait_state(monitor, guest.uuid, S.HEALTHY)
    cf.wait_for(lambda: fake.connections() >= 2, what="libvirt connections")
    fake.stop_daemon()
    time.sleep(3.0)
    fake.start_daemon()
    cf.wait_for(lambda: "libvirt events from" in caplog.text,
                what="the event feed reconnecting")
    cf.wait_for(lambda: "Connected to libvirt at" in caplog.text,
                what="QGA and statistics reconnecting")
    assert "Lost the libvirt connection" in caplog.text
    # Events flow on the new connection.
    fake.fire_lifecycle(guest.uuid, fake.VIR_DOMAIN_EVENT_SUSPENDED,
                        fake.VIR_DOMAIN_EVENT_SUSPENDED_PAUSED)
    cf.wait_state(monitor, guest.uuid, S.INACTIVE)
    fake.fire_lifecycle(guest.uuid, fake.VIR_DOMAIN_EVENT_RESUMED,
                        fake.VIR_DOMAIN_EVENT_RESUMED_UNPAUSED)
    cf.wait_state(monitor, guest.uuid, S.HEALTHY)
    assert sink.received == []


def test_stop_returns_within_a_second_even_with_hanging_qga(
        guests: cf.GuestFactory, service: cf.ServiceFactory,
        fake: fakelibvirt.FakeLibvirt) -> None:
    guest = guests(qga_mode="hang")
    monitor = service()
    cf.wait_state(monitor, guest.uuid, S.HEALTHY)
    cf.wait_for(lambda: guest.domain.qga.calls > 0, what="a QGA call")
    began = time.monotonic()
    monitor.stop()
    elapsed = time.monotonic() - began
    print("stop() took %.3f s" % elapsed)
    assert elapsed < 1.0
    assert monitor.statuses() == []
