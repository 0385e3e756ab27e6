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

"""The HTTP endpoint: serves /metrics, fails clearly, stops quickly."""

from __future__ import annotations

import socket
import time
import urllib.request

import pytest

from nova_vm_heartbeat import exception
from nova_vm_heartbeat.metrics.exporter import MetricsExporter
from nova_vm_heartbeat.runtime.options import MetricsEndpoint
from tests.unit.admin import fakes


def test_serves_and_stops() -> None:
    exporter = MetricsExporter(MetricsEndpoint("127.0.0.1", 0),
                               fakes.Provider().telemetry)
    exporter.start()
    try:
        url = "http://127.0.0.1:%d/metrics" % exporter.port
        with urllib.request.urlopen(url, timeout=5) as answer:
            text = answer.read().decode()
        assert "nova_vm_heartbeat_up 1.0" in text
        assert 'nova_vm_heartbeat_instances{state="failed"} 1.0' in text
    finally:
        began = time.monotonic()
        exporter.stop()
    assert time.monotonic() - began < 0.5
    with pytest.raises(OSError):
        urllib.request.urlopen(url, timeout=1)


def test_a_port_in_use_is_an_endpoint_failure() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        exporter = MetricsExporter(MetricsEndpoint("127.0.0.1", port),
                                   fakes.Provider().telemetry)
        with pytest.raises(exception.EndpointFailed,
                           match="metrics endpoint at 127.0.0.1:%d" % port):
            exporter.start()


def test_stop_without_start_is_harmless() -> None:
    MetricsExporter(MetricsEndpoint("127.0.0.1", 0),
                    fakes.Provider().telemetry).stop()
