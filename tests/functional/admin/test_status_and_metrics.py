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

"""``nova-vm-heartbeat status`` and the metrics, against a running monitor.

The monitor is the real service with real guest agent processes (see
``tests/functional/runtime``); the status command is the installed
console script, run as a separate process; the metrics are scraped over
HTTP.
"""

from __future__ import annotations

import dataclasses
import json
import os
import pathlib
import signal
import socket
import subprocess
import sys
import typing
import urllib.request

from prometheus_client.parser import text_string_to_metric_families

from nova_vm_heartbeat.monitor.machine import MonitorState as S
from nova_vm_heartbeat.runtime.options import AdminEndpoint
from nova_vm_heartbeat.runtime.options import MetricsEndpoint
from tests.functional.runtime import conftest as cf

STATUS = os.path.join(os.path.dirname(sys.executable), "nova-vm-heartbeat")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def status(path: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([STATUS, "status", "--socket", path, *args],
                          capture_output=True, text=True, timeout=30)


def scrape(port: int) -> typing.Dict[typing.Tuple[str, typing.Tuple[
        typing.Tuple[str, str], ...]], float]:
    url = "http://127.0.0.1:%d/metrics" % port
    with urllib.request.urlopen(url, timeout=10) as answer:
        text = answer.read().decode()
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text)
            for s in family.samples}


def test_status_and_metrics_follow_a_failing_guest(
        guests: cf.GuestFactory, service: cf.ServiceFactory,
        sink: cf.CollectingSink, workdir: pathlib.Path) -> None:
    well, failing = guests(), guests()
    path, port = str(workdir / "admin" / "admin.sock"), free_port()
    monitor = service(dataclasses.replace(
        cf.OPTIONS, admin=AdminEndpoint(path),
        metrics=MetricsEndpoint("127.0.0.1", port)))
    for guest in (well, failing):
        cf.wait_state(monitor, guest.uuid, S.HEALTHY)

    table = status(path)
    assert table.returncode == 0, table.stderr
    assert "Heartbeat monitor of host compute-1" in table.stdout
    assert table.stdout.count("healthy") >= 2
    assert well.uuid in table.stdout and failing.uuid in table.stdout
    assert "heartbeat qga" in table.stdout

    as_json = json.loads(status(path, "--json").stdout)["instances"]
    by_uuid = {i["uuid"]: i for i in as_json}
    assert by_uuid[well.uuid]["name"] == "guest-0"
    assert by_uuid[well.uuid]["rtt"] is not None
    assert by_uuid[well.uuid]["socket"]["established"] is True

    assert failing.agent is not None
    failing.agent.signal(signal.SIGSTOP)
    try:
        sink.wait(failing.uuid, cf.LOST)
        failed = json.loads(status(path, "--json", "--state",
                                   "failed").stdout)["instances"]
        assert [i["uuid"] for i in failed] == [failing.uuid]
        assert failed[0]["fault_class"] == "agent_failure"
        assert failed[0]["last_good_age"] is not None  # QGA still answers

        samples = scrape(port)
        prefix = "nova_vm_heartbeat_"
        assert samples[prefix + "up", ()] == 1
        assert samples[prefix + "instances", (("state", "failed"),)] == 1
        assert samples[prefix + "instances", (("state", "healthy"),)] == 1
        assert samples[prefix + "verdicts_total", (
            ("fault_class", "agent_failure"),
            ("kind", "instance.heartbeat_lost"))] == 1
        assert samples[prefix + "missed_heartbeats_total", ()] >= 2
        assert samples[prefix + "round_trip_seconds_count", (
            ("channel", "heartbeat"), ("instance_uuid", well.uuid))] >= 2
        assert samples[prefix + "round_trip_seconds_count", (
            ("channel", "qga"), ("instance_uuid", failing.uuid))] >= 2
    finally:
        failing.agent.signal(signal.SIGCONT)

    monitor.stop()
    gone = status(path)
    assert gone.returncode == 1
    assert "the monitor is not running" in gone.stderr
