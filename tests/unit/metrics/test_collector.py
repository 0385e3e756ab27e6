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

"""The metric families made from a snapshot, read back as Prometheus does."""

from __future__ import annotations

import typing

from prometheus_client import exposition
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client import registry

from nova_vm_heartbeat.metrics.collector import Collector
from tests.unit.admin import fakes

Samples = typing.Dict[typing.Tuple[str, typing.Tuple[typing.Tuple[str, str],
                                                     ...]], float]


def scrape(collector: Collector) -> Samples:
    """Every sample, by name and sorted labels, through the text format."""
    reg = registry.CollectorRegistry(auto_describe=False)
    reg.register(collector)
    text = exposition.generate_latest(reg).decode()
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text)
            for s in family.samples}


def test_every_metric_of_the_issue() -> None:
    provider = fakes.Provider()
    samples = scrape(Collector(provider.telemetry))
    prefix = "nova_vm_heartbeat_"
    assert samples[prefix + "up", ()] == 1
    assert samples[prefix + "instances", (("state", "healthy"),)] == 1
    assert samples[prefix + "instances", (("state", "starting"),)] == 0
    uuid = fakes.HEALTHY.uuid
    labels = (("channel", "heartbeat"), ("instance_uuid", uuid))
    assert samples[prefix + "round_trip_seconds_count", labels] == 1
    assert samples[prefix + "round_trip_seconds_bucket",
                   tuple(sorted(labels + (("le", "0.001"),)))] == 0
    assert samples[prefix + "round_trip_seconds_bucket",
                   tuple(sorted(labels + (("le", "0.0025"),)))] == 1
    assert samples[prefix + "missed_heartbeats_total", ()] == 7
    assert samples[prefix + "verdicts_total", (
        ("fault_class", "guest_hung"),
        ("kind", "instance.heartbeat_lost"))] == 1
    assert samples[prefix + "verdicts_total", (
        ("fault_class", "vm_frozen"),
        ("kind", "instance.heartbeat_lost"))] == 0
    assert samples[prefix + "protocol_errors_total",
                   (("kind", "invalid_json"),)] == 2
    assert samples[prefix + "protocol_errors_total",
                   (("kind", "too_deep"),)] == 0
    assert samples[prefix + "outbox_depth", ()] == 4
    assert samples[prefix + "loop_lag_seconds_count", ()] == 1
    assert samples[prefix + "loop_lag_max_seconds", ()] == 0.003
    assert samples[prefix + "loop_stalls_total", ()] == 1
    assert samples[prefix + "loop_cpu_seconds_total", ()] == 1.5
    abusive = (("instance_uuid", fakes.FAILED.uuid),)
    assert samples[prefix + "guest_abuse_total",
                   abusive + (("kind", "cpu_budget"),)] == 3
    assert samples[prefix + "guest_abuse_total",
                   abusive + (("kind", "rejected"),)] == 5012
    # Only the instances that did anything have series.
    assert not [k for k in samples if k[0] == prefix + "guest_abuse_total"
                and ("instance_uuid", fakes.HEALTHY.uuid) in k[1]]


def test_round_trips_per_channel_only() -> None:
    provider = fakes.Provider()
    provider.telemetry_.round_trip("other", "heartbeat", 0.03)
    samples = scrape(Collector(provider.telemetry, per_instance=False))
    name = "nova_vm_heartbeat_round_trip_seconds_count"
    assert samples[name, (("channel", "heartbeat"),)] == 2
    assert not [k for k in samples if ("instance_uuid", "other") in k[1]]
    abuse = "nova_vm_heartbeat_guest_abuse_total"
    assert samples[abuse, (("kind", "rejected"),)] == 5012
    assert samples[abuse, (("kind", "read_budget"),)] == 0


def test_a_stuck_loop_scrapes_as_down() -> None:
    provider = fakes.Provider()
    provider.stuck = True
    samples = scrape(Collector(provider.telemetry))
    assert samples == {("nova_vm_heartbeat_up", ()): 0}


def test_no_outbox_no_depth() -> None:
    provider = fakes.Provider()
    snapshot = provider.telemetry()
    empty = type(snapshot)(**dict(vars(snapshot), outbox_depth=None))
    samples = scrape(Collector(lambda timeout: empty))
    assert not [k for k in samples if k[0].endswith("outbox_depth")]
