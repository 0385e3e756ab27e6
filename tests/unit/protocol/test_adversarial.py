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

"""Hostile lines cost time linear in their length, and say little.

Cost is compared as a ratio measured in one run (16 KiB over 8 KiB of the
same worst case), never as an absolute time: linear code gives about 2,
quadratic code 4. The bound, 3, leaves room for a noisy shared machine.
"""

from __future__ import annotations

from hypothesis import given
from hypothesis import settings
import pytest

from nova_vm_heartbeat import protocol
from nova_vm_heartbeat.protocol import codec
from tests.unit.protocol import adversarial

#: Most a 16 KiB line may cost over an 8 KiB one.
MAX_RATIO = 3.0
#: Longest error text any input may produce: kind, detail and excerpt.
MAX_ERROR_CHARS = 512


def _ratio(build: adversarial.Builder) -> float:
    # A second try absorbs one unlucky preemption; quadratic code fails
    # both by far.
    return min(adversarial.cost_ratio(build) for _ in range(2))


@pytest.mark.parametrize("family", sorted(adversarial.FAMILIES))
def test_cost_is_linear(family: str) -> None:
    assert _ratio(adversarial.FAMILIES[family]) < MAX_RATIO


@pytest.mark.parametrize("stream", sorted(adversarial.STREAM_UNITS))
def test_floods_cost_is_linear(stream: str) -> None:
    unit = adversarial.STREAM_UNITS[stream]
    assert min(adversarial.stream_ratio(unit) for _ in range(3)) < MAX_RATIO


@pytest.mark.parametrize("family", sorted(adversarial.FAMILIES))
def test_families_fill_the_line(family: str) -> None:
    for size in (1, 8192, 16384):
        assert len(adversarial.FAMILIES[family](size)) == size


def test_the_reported_line_is_rejected() -> None:
    line = b"[" * 9 + b'"' + b'\\"' * 8187
    assert len(line) == 16384
    with pytest.raises(protocol.RemoteProtocolError) as raised:
        codec.decode_line(line, protocol.DEFAULT_LIMITS)
    assert raised.value.kind == "too_deep"


def _error_text(line: bytes) -> str:
    try:
        codec.decode_line(line, protocol.DEFAULT_LIMITS)
    except protocol.RemoteProtocolError as err:
        assert err.kind in protocol.REMOTE_ERROR_KINDS
        return str(err)
    return ""


@pytest.mark.parametrize("family", sorted(adversarial.FAMILIES))
def test_errors_are_short(family: str) -> None:
    text = _error_text(adversarial.FAMILIES[family](16384))
    assert len(text) <= MAX_ERROR_CHARS
    assert text.isascii() and text.isprintable()


def test_component_name_is_quoted_short() -> None:
    name = "\\u001b[31m" + "n" * 8000
    line = ('{"v":1,"type":"report","health":"ok","components":{"%s":1}}'
            % name).encode()
    text = _error_text(line)
    assert "invalid_field" in text and len(text) <= MAX_ERROR_CHARS
    assert "\x1b" not in text and "\\x1b" in text


@settings(max_examples=40, deadline=None)
@given(adversarial.prefixes, adversarial.units)
def test_drawn_worst_cases_are_linear(prefix: bytes, unit: bytes) -> None:
    def build(size: int) -> bytes:
        return adversarial.repeat(prefix, unit, size)
    assert _ratio(build) < MAX_RATIO


@given(adversarial.lines())
def test_drawn_lines_decode_or_raise_short(line: bytes) -> None:
    text = _error_text(line)
    assert len(text) <= MAX_ERROR_CHARS
