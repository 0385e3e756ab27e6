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

"""Reading our notifications back: the inverse of payload.build."""

from __future__ import annotations

import copy
import datetime
import json
import pathlib

from hypothesis import given
from hypothesis import strategies as st
import pytest

from nova_vm_heartbeat.monitor import verdicts as vd
from nova_vm_heartbeat.notifications import payload
from nova_vm_heartbeat.notifications import received

UUID = "8c1b2f4e-49d5-4a0a-9f3b-2b8f0c0a7e11"
MADE = datetime.datetime(2026, 11, 21, 18, 0, 1, 250000,
                         tzinfo=datetime.timezone.utc)


def built(kind=vd.VerdictKind.HEARTBEAT_LOST,
          fault=vd.FaultClass.GUEST_HUNG) -> payload.Notification:
    verdict = vd.Verdict(kind=kind, fault_class=fault,
                         severity=vd.SEVERITIES[fault], episode=4,
                         reason="no channel answers", missed=3)
    return payload.build(verdict, payload.Identity(UUID, "compute-1", "vm"),
                         "FAILED", MADE, "v-1")


def test_round_trip():
    note = built()
    report = received.parse(note.event_type, note.payload, note.publisher_id)
    assert report == received.Report(
        kind=vd.VerdictKind.HEARTBEAT_LOST, host="compute-1",
        instance_uuid=UUID, fault_class=vd.FaultClass.GUEST_HUNG,
        severity=vd.Severity.CRITICAL, episode=4, verdict_id="v-1",
        generated_at=MADE, reason="no channel answers", display_name="vm")
    assert not report.restored


def test_host_from_the_payload_without_a_publisher():
    note = built(vd.VerdictKind.HEARTBEAT_RESTORED)
    report = received.parse(note.event_type, note.payload)
    assert report.host == "compute-1" and report.restored


def broken(path, value):
    note = built()
    data = copy.deepcopy(note.payload)
    target = data
    for key in path[:-1]:
        target = target[key]
    if value is KeyError:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return note.event_type, data


DATA = "nova_object.data"


@pytest.mark.parametrize("event_type, data", [
    broken((DATA, "instance_uuid"), "not-a-uuid"),
    broken((DATA, "instance_uuid"), KeyError),
    broken((DATA, "fault_class"), "bored"),
    broken((DATA, "severity"), 3),
    broken((DATA, "episode"), -1),
    broken((DATA, "episode"), True),
    broken((DATA, "generated_at"), "2026-11-21T18:00:01"),
    # In range as written, out of range once moved to UTC: OverflowError.
    broken((DATA, "generated_at"), "0001-01-01T00:00:00+01:00"),
    broken((DATA, "generated_at"), "9999-12-31T23:59:59-01:00"),
    broken((DATA, "generated_at"), "9999-12-31T23:59:59.999999-00:01"),
    broken((DATA, "generated_at"), "\x00"),
    broken((DATA, "verdict_id"), "x" * 300),
    broken(("nova_object.name",), "SomethingElse"),
    broken(("nova_object.version",), "2.0"),
    broken((DATA,), []),
    ("instance.heartbeat_lost", "not an object"),
    ("instance.update", built().payload),
])
def test_malformed(event_type, data):
    with pytest.raises(received.MalformedNotification):
        received.parse(event_type, data, "nova-compute:compute-1")


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats()
    | st.text(max_size=40),
    lambda inner: st.lists(inner, max_size=4)
    | st.dictionaries(st.text(max_size=20), inner, max_size=4),
    max_leaves=20)
FIELDS = st.sampled_from(sorted(built().payload[DATA]))


@given(FIELDS, JSON)
def test_any_field_value_parses_or_is_malformed(field, value):
    """The bridge's invariant: nothing else escapes (it would loop)."""
    event_type, data = broken((DATA, field), value)
    try:
        received.parse(event_type, data, "nova-compute:compute-1")
    except received.MalformedNotification:
        pass


@given(st.text(max_size=40))
def test_any_generated_at_parses_or_is_malformed(text):
    event_type, data = broken((DATA, "generated_at"), text)
    try:
        report = received.parse(event_type, data, "nova-compute:compute-1")
    except received.MalformedNotification:
        return
    assert report.generated_at.tzinfo is datetime.timezone.utc


@pytest.mark.parametrize("publisher", [
    "nova-api:compute-1", "nova-compute:", None, 42])
def test_publisher_must_name_a_compute_host(publisher):
    note = built()
    if publisher is None:
        return  # None means "use the payload's host", tested above
    with pytest.raises(received.MalformedNotification):
        received.parse(note.event_type, note.payload, publisher)


def test_texts_are_bounded_and_printable():
    note = built()
    note.payload[DATA]["reason"] = "\x1b[31m" + "r" * 1000
    report = received.parse(note.event_type, note.payload)
    assert len(report.reason) == received.MAX_TEXT
    assert report.reason.startswith("?[31m")


SAMPLES = sorted((pathlib.Path(__file__).resolve().parents[3] / "doc"
                  / "notification_samples").glob("*.json"))


@pytest.mark.parametrize("sample", SAMPLES, ids=[s.name for s in SAMPLES])
def test_the_published_samples_are_readable(sample):
    """What consumers read is what the samples say goes on the wire."""
    message = json.loads(sample.read_text())
    report = received.parse(message["event_type"], message["payload"],
                            message["publisher_id"])
    assert report.kind.value == message["event_type"]
    assert report.instance_uuid == (
        message["payload"]["nova_object.data"]["instance_uuid"])
