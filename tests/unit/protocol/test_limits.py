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

"""The configurable bounds."""

from __future__ import annotations

import pytest

from nova_vm_heartbeat.protocol import errors
from nova_vm_heartbeat.protocol.limits import Limits


def test_defaults() -> None:
    limits = Limits()
    assert limits.max_line_bytes == 16384
    assert limits.max_buffer_bytes == 65536
    assert limits.max_depth == 8
    assert limits.max_string_chars == 256
    assert limits.max_components == 32
    assert limits.max_messages_per_second == 20.0
    assert limits.max_burst == 40


@pytest.mark.parametrize("field", ["max_line_bytes", "max_depth",
                                   "max_burst", "max_messages_per_second"])
@pytest.mark.parametrize("value", [0, -1, True])
def test_bounds_must_be_positive(field: str, value: object) -> None:
    with pytest.raises(ValueError, match=field):
        Limits(**{field: value})  # type: ignore[arg-type]


def test_buffer_must_hold_a_line() -> None:
    with pytest.raises(ValueError, match="max_buffer_bytes"):
        Limits(max_line_bytes=1000, max_buffer_bytes=1000)


def test_excerpt_is_short_and_escaped() -> None:
    quoted = errors.excerpt(b"\x1b[31m\n" + b"x" * 200)
    assert quoted.startswith("\\x1b[31m\\n")
    assert quoted.endswith("...")
    assert len(quoted) < 100
    assert "\n" not in quoted and "\x1b" not in quoted


def test_remote_error_message() -> None:
    error = errors.RemoteProtocolError("invalid_json", "bad", b"{\x00")
    assert error.kind in errors.REMOTE_ERROR_KINDS
    assert str(error) == "invalid_json: bad (input: {\\x00)"
