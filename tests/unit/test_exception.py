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

from __future__ import annotations

import logging

import pytest

from nova_vm_heartbeat import exception


class InstanceGone(exception.HeartbeatException):
    msg_fmt = "Instance %(instance)s vanished during %(operation)s"


def test_default_message() -> None:
    err = exception.HeartbeatException()
    assert str(err) == "An unknown exception occurred."
    assert err.kwargs == {}


def test_message_is_formatted_from_kwargs() -> None:
    err = InstanceGone(instance="i-1", operation="reboot")
    assert str(err) == "Instance i-1 vanished during reboot"
    assert err.message == str(err)
    assert err.kwargs == {"instance": "i-1", "operation": "reboot"}


def test_explicit_message_wins() -> None:
    err = InstanceGone("custom text", instance="i-1")
    assert str(err) == "custom text"
    assert err.kwargs == {"instance": "i-1"}


def test_missing_field_does_not_raise(
        caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.ERROR, logger=exception.__name__):
        err = InstanceGone(instance="i-1")
    assert str(err).startswith(InstanceGone.msg_fmt)
    assert "instance='i-1'" in str(err)
    assert "InstanceGone" in caplog.text


def test_is_raisable_with_cause() -> None:
    cause = OSError("socket closed")
    with pytest.raises(InstanceGone) as info:
        try:
            raise cause
        except OSError as err:
            raise InstanceGone(instance="i", operation="x") from err
    assert info.value.__cause__ is cause
