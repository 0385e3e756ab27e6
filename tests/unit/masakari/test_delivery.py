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

"""One message through the bridge: when it is acknowledged, when not."""

from __future__ import annotations

import datetime
import logging
import typing

import pytest

from nova_vm_heartbeat.masakari import client as mc
from nova_vm_heartbeat.masakari.delivery import Deliverer
from nova_vm_heartbeat.masakari.delivery import Disposition
from nova_vm_heartbeat.masakari.freshness import Freshness
from nova_vm_heartbeat.masakari.gate import RetryGate
from nova_vm_heartbeat.masakari.request import Selection
from nova_vm_heartbeat.masakari.request import VmNotification
from nova_vm_heartbeat.monitor import verdicts as vd
from nova_vm_heartbeat.notifications import payload

UUID = "8c1b2f4e-49d5-4a0a-9f3b-2b8f0c0a7e11"
ACCEPTED = mc.Answer(mc.Outcome.ACCEPTED, status=202, notification_uuid="n")
DOWN = mc.Answer(mc.Outcome.UNAVAILABLE, detail="refused")
REFUSED = mc.Answer(mc.Outcome.REJECTED, status=400,
                    detail="Host with name compute-9 could not be found.")


class Sender:
    """Answers from a script; remembers what it was sent."""

    def __init__(self, *answers: mc.Answer):
        self.answers = list(answers)
        self.sent: typing.List[VmNotification] = []

    def send(self, notification: VmNotification) -> mc.Answer:
        self.sent.append(notification)
        return self.answers.pop(0)


def message(fault=vd.FaultClass.GUEST_HUNG, host="compute-1",
            kind=vd.VerdictKind.HEARTBEAT_LOST, episode=1, age=0.0):
    verdict = vd.Verdict(kind=kind, fault_class=fault,
                         severity=vd.SEVERITIES[fault], episode=episode,
                         reason="r")
    made = (datetime.datetime.now(datetime.timezone.utc)
            - datetime.timedelta(seconds=age))
    note = payload.build(verdict, payload.Identity(UUID, host), "FAILED",
                         made, "v")
    return note.event_type, note.publisher_id, note.payload


def restored(episode=1, age=0.0):
    return message(kind=vd.VerdictKind.HEARTBEAT_RESTORED, episode=episode,
                   age=age)


def deliverer(sender: Sender, attempts: int = 2,
              gate: typing.Optional[RetryGate] = None,
              max_age: float = 300.0) -> Deliverer:
    return Deliverer(sender, Selection.from_names(["guest_hung"]),
                     gate or RetryGate(0.0, 0.0), attempts,
                     Freshness(max_age))


def test_acknowledged_once_masakari_accepted():
    sender = Sender(ACCEPTED)
    assert deliverer(sender).handle(*message()) is Disposition.ACK
    [sent] = sender.sent
    assert sent.instance_uuid == UUID and sent.hostname == "compute-1"


def test_duplicate_is_done_with():
    sender = Sender(mc.Answer(mc.Outcome.DUPLICATE, status=409))
    assert deliverer(sender).handle(*message()) is Disposition.ACK


def test_retried_then_requeued_while_masakari_is_away():
    sender = Sender(DOWN, DOWN)
    assert deliverer(sender).handle(*message()) is Disposition.REQUEUE
    assert len(sender.sent) == 2


def test_retry_succeeds_within_the_attempts():
    sender = Sender(DOWN, ACCEPTED)
    assert deliverer(sender).handle(*message()) is Disposition.ACK


def test_unselected_verdicts_never_reach_masakari(caplog):
    sender = Sender()
    caplog.set_level(logging.INFO)
    result = deliverer(sender).handle(*message(vd.FaultClass.AGENT_FAILURE))
    assert result is Disposition.ACK and sender.sent == []
    assert "not selected" in caplog.text


def test_restored_verdicts_ask_for_nothing(caplog):
    sender = Sender()
    caplog.set_level(logging.DEBUG)
    result = deliverer(sender).handle(*message(
        kind=vd.VerdictKind.HEARTBEAT_RESTORED))
    assert result is Disposition.ACK and sender.sent == []
    assert "ends episode 1" in caplog.text


def test_malformed_messages_are_dropped(caplog):
    sender = Sender()
    event_type, publisher, data = message()
    data["nova_object.data"]["instance_uuid"] = "nope"
    assert (deliverer(sender).handle(event_type, publisher, data)
            is Disposition.ACK)
    assert sender.sent == [] and "malformed" in caplog.text


def test_refusal_is_logged_once_per_host_with_the_fix(caplog):
    sender = Sender(REFUSED, REFUSED, ACCEPTED, REFUSED)
    bridge = deliverer(sender)
    caplog.set_level(logging.DEBUG)
    for _ in range(2):
        assert bridge.handle(*message(host="compute-9")) is Disposition.ACK
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1
    assert "openstack segment host create" in errors[0].getMessage()
    # Accepted once, the next refusal is news again.
    bridge.handle(*message(host="compute-9"))
    bridge.handle(*message(host="compute-9"))
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 2


def test_requeued_at_once_when_the_bridge_stops():
    gate = RetryGate(60.0, 60.0)
    sender = Sender(DOWN)
    bridge = deliverer(sender, attempts=5, gate=gate)
    gate.stop()
    assert bridge.handle(*message()) is Disposition.REQUEUE
    assert sender.sent == []


def test_a_sender_exception_closes_the_gate_and_propagates():
    class Broken:
        def send(self, notification):
            raise RuntimeError("bug")

    gate = RetryGate(5.0, 5.0)
    bridge = Deliverer(Broken(), Selection.from_names(["guest_hung"]),
                       gate, 1, Freshness(0))
    with pytest.raises(RuntimeError):
        bridge.handle(*message())
    assert gate.failing


@pytest.mark.parametrize("generated_at", [
    "0001-01-01T00:00:00+01:00",  # OverflowError once moved to UTC
    "9999-12-31T23:59:59-01:00",
    "2026-02-30T00:00:00Z",
])
def test_out_of_range_fields_are_acknowledged_and_logged_once(
        caplog, generated_at):
    sender = Sender()
    event_type, publisher, data = message()
    data["nova_object.data"]["generated_at"] = generated_at
    caplog.set_level(logging.DEBUG)
    assert (deliverer(sender).handle(event_type, publisher, data)
            is Disposition.ACK)
    assert sender.sent == []
    [record] = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert "malformed" in record.getMessage()
    assert "will not come back" in record.getMessage()


def test_a_verdict_older_than_the_cap_is_skipped_with_the_reason(caplog):
    sender = Sender(ACCEPTED)
    caplog.set_level(logging.INFO)
    bridge = deliverer(sender, max_age=60.0)
    assert bridge.handle(*message(age=61.0)) is Disposition.ACK
    assert sender.sent == []
    assert "max_verdict_age" in caplog.text and "no longer current" in (
        caplog.text)
    assert bridge.handle(*message(age=50.0)) is Disposition.ACK
    assert len(sender.sent) == 1


def test_no_age_cap_when_zero():
    sender = Sender(ACCEPTED)
    bridge = deliverer(sender, max_age=0)
    assert bridge.handle(*message(age=86400.0 * 365)) is Disposition.ACK
    assert len(sender.sent) == 1


def test_a_later_restored_of_the_episode_cancels_the_verdict(caplog):
    sender = Sender(ACCEPTED, ACCEPTED)
    bridge = deliverer(sender)
    caplog.set_level(logging.INFO)
    lost = message(episode=3, age=5.0)
    bridge.handle(*restored(episode=3, age=1.0))
    assert bridge.handle(*lost) is Disposition.ACK
    assert sender.sent == []
    assert "heartbeat_restored of the same episode (3)" in caplog.text
    # Another episode of the same instance is still acted on.
    assert bridge.handle(*message(episode=4)) is Disposition.ACK
    assert len(sender.sent) == 1


def test_an_earlier_restored_does_not_cancel_a_new_episode():
    """Episode numbers restart with the monitor: compare the times too."""
    sender = Sender(ACCEPTED)
    bridge = deliverer(sender)
    bridge.handle(*restored(episode=1, age=30.0))
    assert bridge.handle(*message(episode=1, age=1.0)) is Disposition.ACK
    assert len(sender.sent) == 1


def test_a_restored_read_while_masakari_is_away_stops_the_retries():
    """The verdict went back to the queue; it comes back after restored."""
    sender = Sender(DOWN, DOWN)
    bridge = deliverer(sender)
    lost = message(episode=2, age=2.0)
    assert bridge.handle(*lost) is Disposition.REQUEUE
    bridge.handle(*restored(episode=2))
    assert bridge.handle(*lost) is Disposition.ACK
    assert len(sender.sent) == 2  # the two attempts before restored
