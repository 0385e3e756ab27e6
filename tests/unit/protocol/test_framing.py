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

"""The bounded line splitter."""

from __future__ import annotations

import typing

import pytest

from nova_vm_heartbeat.protocol import errors
from nova_vm_heartbeat.protocol import framing
from nova_vm_heartbeat.protocol.limits import Limits

SMALL = Limits(max_line_bytes=16, max_buffer_bytes=64, max_burst=4)


def items(buffer: framing.LineBuffer) -> typing.List[typing.Any]:
    out: typing.List[typing.Any] = []
    while True:
        item = buffer.pop()
        if item is None:
            return out
        out.append((item.kind, item.count)
                   if isinstance(item, framing.Overflow) else item)


@pytest.fixture
def buffer() -> framing.LineBuffer:
    return framing.LineBuffer(SMALL)


def test_lines_split_across_chunks(buffer: framing.LineBuffer) -> None:
    for chunk in (b"ab", b"c\nde", b"f\n\n", b"g"):
        buffer.feed(chunk)
    assert items(buffer) == [b"abc", b"def"]
    assert buffer.buffered_bytes == 1


def test_blank_lines_are_keepalives(buffer: framing.LineBuffer) -> None:
    buffer.feed(b"\n \n\r\nx\n")
    assert items(buffer) == [b"x"]


def test_resync_drops_partial_line(buffer: framing.LineBuffer) -> None:
    buffer.feed(b"half\xffwhole\n")
    assert items(buffer) == [framing.RESYNC, b"whole"]


def test_repeated_resyncs_collapse(buffer: framing.LineBuffer) -> None:
    buffer.feed(b"\xff\xff\xff")
    buffer.feed(b"\xff")
    assert items(buffer) == [framing.RESYNC]


def test_long_partial_line_is_discarded_until_newline(
        buffer: framing.LineBuffer) -> None:
    buffer.feed(b"x" * 10)
    buffer.feed(b"x" * 10)
    assert buffer.buffered_bytes == 0
    buffer.feed(b"x" * 100 + b"\nok\n")
    assert items(buffer) == [("line_too_long", 1), b"ok"]


def test_long_line_in_one_chunk(buffer: framing.LineBuffer) -> None:
    buffer.feed(b"y" * 17 + b"\nok\n")
    assert items(buffer) == [("line_too_long", 1), b"ok"]


def test_resync_ends_discarding(buffer: framing.LineBuffer) -> None:
    buffer.feed(b"z" * 40 + b"\xffok\n")
    assert items(buffer) == [("line_too_long", 1), framing.RESYNC, b"ok"]


def test_unread_lines_are_bounded(buffer: framing.LineBuffer) -> None:
    buffer.feed(b"a\n" * 10)
    assert buffer.buffered_bytes <= SMALL.max_buffer_bytes
    assert items(buffer) == [b"a"] * 4 + [("buffer_full", 6)]


def test_unread_bytes_are_bounded(buffer: framing.LineBuffer) -> None:
    buffer.feed(b"0123456789abcdef\n" * 4)
    assert buffer.buffered_bytes <= SMALL.max_buffer_bytes
    assert items(buffer) == [b"0123456789abcdef"] * 3 + [("buffer_full", 1)]


def test_marker_flood_is_bounded(buffer: framing.LineBuffer) -> None:
    buffer.feed(b"\xff" + b"x" * 20 + b"\n" + b"\xffa\n" * 1000)
    queued = items(buffer)
    assert len(queued) <= 2 * SMALL.max_burst + 2
    assert queued[-1][0] == "buffer_full"


def test_eof_mid_line_is_truncated(buffer: framing.LineBuffer) -> None:
    buffer.feed(b"ok\npart")
    buffer.feed(b"")
    assert items(buffer) == [b"ok", ("truncated", 1), framing.EOF]
    assert buffer.closed


def test_data_after_eof_is_our_bug(buffer: framing.LineBuffer) -> None:
    buffer.feed(b"")
    with pytest.raises(errors.LocalProtocolError):
        buffer.feed(b"late\n")


def test_overflow_error_counts_repeats() -> None:
    error = framing.Overflow("buffer_full", "dropped", b"x", count=3).error()
    assert error.kind == "buffer_full"
    assert "3 times" in str(error)


def test_resync_runs_and_dead_segments(buffer: framing.LineBuffer) -> None:
    # Text between two 0xFF with no newline is discarded by the second.
    buffer.feed(b"a\n" + b"\xff" * 1000 + b"junk\xff\xffb\n\xff \n\xffc")
    buffer.feed(b"\n")
    assert items(buffer) == [b"a", framing.RESYNC, b"b", framing.RESYNC,
                             b"c"]


def test_long_segment_between_resyncs_overflows() -> None:
    buffer = framing.LineBuffer(Limits(max_line_bytes=8,
                                       max_buffer_bytes=64))
    buffer.feed(b"\xff" + b"x" * 20 + b"\xffok\n")
    assert items(buffer) == [framing.RESYNC, ("line_too_long", 1),
                             framing.RESYNC, b"ok"]


def test_flood_past_the_queue_is_counted_at_once() -> None:
    limits = Limits(max_burst=4)
    buffer = framing.LineBuffer(limits)
    buffer.feed(b"[\n" * 1000)
    got = items(buffer)
    assert got[:4] == [b"["] * 4
    assert got[4:] == [("buffer_full", 996)]
    buffer.feed(b"\xff[\n" * 1000)
    got = items(buffer)
    assert sum(i[1] for i in got if isinstance(i, tuple)) >= 990
