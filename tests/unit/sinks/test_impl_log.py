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

"""The log sink: one INFO line per notification, every field escaped."""

from __future__ import annotations

import logging

from oslo_config import cfg
import pytest

from nova_vm_heartbeat.sinks import base
from nova_vm_heartbeat.sinks import impl_log
from tests.unit.sinks.helpers import notification


@pytest.fixture
def sink() -> impl_log.LogSink:
    return impl_log.LogSink(cfg.ConfigOpts())


def test_one_info_line(sink, caplog):
    with caplog.at_level(logging.INFO, logger=impl_log.__name__):
        sink.send(notification(7))
    [record] = caplog.records
    assert record.levelno == logging.INFO
    assert record.getMessage() == (
        "instance.heartbeat_lost: instance instance-7, fault class "
        "guest_hung, severity critical, reason \"no answer for 30 s\"")


def test_guest_text_cannot_forge_lines(sink, caplog):
    reason = "ok\n2026-01-01 INFO fake line\x1b[31m \\ done"
    with caplog.at_level(logging.INFO, logger=impl_log.__name__):
        sink.send(notification(1, reason=reason))
    message = caplog.records[0].getMessage()
    assert "\n" not in message and "\x1b" not in message
    assert ("reason \"ok\\n2026-01-01 INFO fake line\\x1b[31m \\\\ done\""
            in message)


def test_long_fields_are_cut(sink, caplog):
    with caplog.at_level(logging.INFO, logger=impl_log.__name__):
        sink.send(notification(1, reason="x" * 10000))
    message = caplog.records[0].getMessage()
    assert "x" * impl_log.MAX_FIELD_CHARS + "...\"" in message
    assert len(message) < 400


def test_missing_fields(sink, caplog):
    odd = notification(1)
    odd = type(odd)(event_type=odd.event_type,
                    publisher_id=odd.publisher_id, payload={})
    with caplog.at_level(logging.INFO, logger=impl_log.__name__):
        sink.send(odd)
    assert caplog.records[0].getMessage() == (
        "instance.heartbeat_lost: instance -, fault class -, severity -, "
        "reason \"-\"")


@pytest.mark.parametrize("value, expected", [
    ("plain", "plain"), (None, "-"), (3, "3"), ("caf\u00e9", "caf\u00e9"),
    ("tab\there", "tab\\there"), ("back\\slash", "back\\\\slash"),
    ("\u2028", "\\u2028"), ("abcdef", "abc..."),
])
def test_escape(value, expected):
    assert impl_log.escape(value, limit=3 if expected == "abc..." else 128
                           ) == expected


def test_is_a_sink(sink):
    assert isinstance(sink, base.Sink)
    sink.start()
    sink.stop()
