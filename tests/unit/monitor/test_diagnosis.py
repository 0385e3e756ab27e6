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

"""Fault classes from their signal combinations."""

from __future__ import annotations

import typing

import pytest

from nova_vm_heartbeat.monitor import diagnosis
from nova_vm_heartbeat.monitor.diagnosis import Evidence
from nova_vm_heartbeat.monitor.verdicts import FaultClass as F

BUSY_VCPUS: typing.Dict[str, typing.Any] = dict(
    stats_window=3.0, cpu_used=0.2, io_ops=0)


@pytest.mark.parametrize("evidence,fault", [
    (Evidence(crashed=True, qga_recent=True), F.GUEST_CRASHED),
    (Evidence(qga_configured=True, qga_recent=True, **BUSY_VCPUS),
     F.AGENT_FAILURE),
    (Evidence(agent_stopped=True), F.AGENT_FAILURE),
    (Evidence(qga_configured=True, **BUSY_VCPUS), F.GUEST_HUNG),
    (Evidence(qga_configured=True, stats_window=3.0, cpu_used=0.0),
     F.VM_FROZEN),
    (Evidence(qga_configured=True, stats_window=3.0, cpu_used=0.0029),
     F.VM_FROZEN),
    (Evidence(qga_configured=True, stats_window=3.0, cpu_used=0.0031),
     F.GUEST_HUNG),
    (Evidence(qga_configured=True), F.GUEST_HUNG),
    (Evidence(stats_window=3.0, cpu_used=0.2, io_ops=50), F.AGENT_FAILURE),
    (Evidence(stats_window=3.0, cpu_used=0.2, io_ops=0), F.GUEST_HUNG),
    # QGA configured but its latest challenge said nothing (host error,
    # not sampled): no evidence either way, as if there were no QGA.
    (Evidence(qga_configured=True, qga_unknown=True, stats_window=3.0,
              cpu_used=0.2, io_ops=50), F.AGENT_FAILURE),
    (Evidence(qga_configured=True, stats_window=3.0, cpu_used=0.2,
              io_ops=50), F.GUEST_HUNG),
    (Evidence(heartbeat_silent=False, qga_configured=True, **BUSY_VCPUS),
     F.GUEST_HUNG),
    (Evidence(heartbeat_silent=False, qga_recent=True, **BUSY_VCPUS),
     F.GUEST_HUNG),
])
def test_classify(evidence: Evidence, fault: F) -> None:
    assert diagnosis.classify(evidence) is fault


def test_history_deltas() -> None:
    history = diagnosis.StatsHistory()
    assert history.deltas(0.0) == (None, None, None)
    for second in range(5):
        history.add(diagnosis.Sample(float(second), second * 0.5,
                                     second * 10))
    assert history.deltas(2.0) == (2.0, 1.0, 20)
    history.add(diagnosis.Sample(5.0, None, 5))  # counters reset: unknown
    assert history.deltas(2.0) == (3.0, None, None)


def test_history_cpu_is_the_trailing_span() -> None:
    """I/O over the whole window; vCPU time over its last ``span``."""
    history = diagnosis.StatsHistory()
    for tenth in range(0, 31, 5):  # 0.0 to 3.0 s: busy, then stopped
        at = tenth / 10
        history.add(diagnosis.Sample(at, min(at, 1.5) * 0.5, tenth))
    covered, cpu, io = history.deltas(0.0, span=1.0)
    assert (covered, cpu, io) == (1.0, 0.0, 30)
    # A span longer than the window: all of it.
    assert history.deltas(0.0, span=10.0)[:2] == (3.0, 0.75)
    # No sample a whole span older than the newest: the oldest one.
    assert history.deltas(2.5, span=1.0)[:2] == (0.5, 0.0)


def test_history_span_since() -> None:
    history = diagnosis.StatsHistory()
    assert history.span_since(0.0) is None
    history.add(diagnosis.Sample(1.0, 0.0, 0))
    assert history.span_since(0.0) == 0.0
    history.add(diagnosis.Sample(1.5, 0.0, 0))
    assert history.span_since(0.0) == 0.5
    assert history.span_since(1.2) == 0.0
    assert history.span_since(2.0) is None


def test_history_is_bounded() -> None:
    history = diagnosis.StatsHistory()
    for second in range(1000):
        history.add(diagnosis.Sample(float(second), 0.0, 0))
    assert history.deltas(0.0)[0] == diagnosis.MAX_SAMPLES - 1
