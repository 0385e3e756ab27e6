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

"""The operator endpoints start and stop with the monitor service."""

from __future__ import annotations

import dataclasses
import os
import pathlib
import socket
import urllib.request

import pytest

from nova_vm_heartbeat.admin import client
from nova_vm_heartbeat import composition
from nova_vm_heartbeat.runtime.options import AdminEndpoint
from nova_vm_heartbeat.runtime.options import MetricsEndpoint
from nova_vm_heartbeat.runtime.service import MonitorService
from tests.unit.runtime.fakes import info
from tests.unit.runtime.test_service import ListSink
from tests.unit.runtime.test_service import ListSource
from tests.unit.runtime.test_service import OPTIONS


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_admin_and_metrics_live_as_long_as_the_service(
        tmp_path: pathlib.Path) -> None:
    path, port = str(tmp_path / "admin.sock"), free_port()
    options = dataclasses.replace(
        OPTIONS, admin=AdminEndpoint(path),
        metrics=MetricsEndpoint("127.0.0.1", port))
    service = MonitorService(ListSource([info("a", socket="")]), ListSink(),
                             options, endpoints=composition.endpoints(options))
    service.start()
    try:
        assert client.ask(path, "ping")["host"] == "compute-1"
        url = "http://127.0.0.1:%d/metrics" % port
        with urllib.request.urlopen(url, timeout=5) as answer:
            assert b"nova_vm_heartbeat_up 1.0" in answer.read()
    finally:
        service.stop()
    assert not os.path.exists(path)
    with pytest.raises(OSError):
        urllib.request.urlopen(url, timeout=1)


def test_an_endpoint_that_cannot_start_does_not_stop_the_monitor(
        tmp_path: pathlib.Path, caplog: pytest.LogCaptureFixture) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    options = dataclasses.replace(
        OPTIONS, admin=AdminEndpoint(str(blocker / "admin.sock")))
    service = MonitorService(ListSource([]), ListSink(), options,
                             endpoints=composition.endpoints(options))
    service.start()
    try:
        assert service.statuses() == []
        assert service.telemetry().states == {}
    finally:
        service.stop()
    assert "Cannot serve the admin socket" in caplog.text
    assert "the monitor runs without it" in caplog.text


def test_no_endpoints_by_default(tmp_path: pathlib.Path) -> None:
    service = MonitorService(ListSource([]), ListSink(), OPTIONS)
    service.start()
    try:
        assert service._endpoints.running == []
    finally:
        service.stop()
