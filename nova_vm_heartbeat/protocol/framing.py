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

"""Bounded splitting of a byte stream into lines and resync markers.

:class:`LineBuffer` scans input as it arrives, so what it keeps is bounded
whatever the size of the chunks it is fed: at most ``max_line_bytes`` of a
partial line plus complete lines up to ``max_buffer_bytes`` in total and
``max_burst`` in number. Input past those bounds is dropped and reported in
order, as an :class:`Overflow` item, where it was dropped.

A 0xFF byte discards any partial line and yields :data:`RESYNC`. Blank
lines are keep-alives and are skipped.
"""

from __future__ import annotations

import collections
import dataclasses
import re
import typing

from nova_vm_heartbeat.protocol import errors
from nova_vm_heartbeat.protocol.limits import Limits

RESYNC_BYTE = b"\xff"
#: What bytes.strip() removes, and 0xFF: input made of these alone
#: holds no line.
_BLANK = b" \t\n\r\x0b\x0c\xff"
_RESYNC_RUN = re.compile(b"\xff{2,}")


class _Marker:
    def __init__(self, name: str):
        self.name = name

    def __repr__(self) -> str:
        return self.name


#: The peer sent 0xFF.
RESYNC = _Marker("RESYNC")
#: The peer closed the stream.
EOF = _Marker("EOF")


@dataclasses.dataclass
class Overflow:
    """Input was dropped; ``count`` consecutive drops of one ``kind``."""

    kind: str
    detail: str
    excerpt: bytes
    count: int = 1

    def error(self) -> errors.RemoteProtocolError:
        detail = self.detail
        if self.count > 1:
            detail += " (%d times)" % self.count
        return errors.RemoteProtocolError(self.kind, detail, self.excerpt,
                                          self.count)


Item = typing.Union[bytes, _Marker, Overflow]


class LineBuffer:
    """Turns bytes into lines, :data:`RESYNC`, :data:`EOF` and overflows."""

    def __init__(self, limits: Limits):
        self._limits = limits
        self._items: typing.Deque[Item] = collections.deque()
        # Lines, resync markers and overflow reports together: bounded so
        # that a flood of 0xFF bytes or bad lines cannot grow the queue.
        self._max_items = 2 * limits.max_burst + 2
        self._queued_bytes = 0
        self._queued_lines = 0
        self._partial = bytearray()
        self._discarding = False
        self._closed = False

    @property
    def buffered_bytes(self) -> int:
        """Peer bytes held: the partial line and unread complete lines."""
        return self._queued_bytes + len(self._partial)

    @property
    def closed(self) -> bool:
        return self._closed

    def feed(self, data: bytes) -> None:
        """Add peer bytes; ``b""`` means the peer closed the stream."""
        if self._closed:
            raise errors.LocalProtocolError("data received after EOF")
        if not data:
            self._close()
            return
        if RESYNC_BYTE not in data:  # nearly always: one complete line
            self._feed_segment(data)
            return
        if b"\xff\xff" in data:  # a run of 0xFF is one resync
            data = _RESYNC_RUN.sub(RESYNC_BYTE, data)
        first, *rest = data.split(RESYNC_BYTE)
        self._feed_segment(first)
        if not rest:
            return
        last = rest.pop()
        middle = data[len(first) + 1:len(data) - len(last)]
        kept = self._between_resyncs(middle, rest)
        for index, segment in enumerate(kept):
            if self._full():
                self._overflow("buffer_full", "lines and resyncs arrive "
                               "faster than they are read; input dropped",
                               segment, count=len(kept) - index)
                break
            self._resync()
            self._feed_segment(segment)
        self._resync()
        self._feed_segment(last)

    def _between_resyncs(self, middle: bytes,
                         segments: typing.List[bytes]) -> typing.List[bytes]:
        """The segments between two 0xFF bytes that can yield anything.

        Such a segment is discarded by the 0xFF after it unless it holds
        a complete line that is not blank, or is too long (an overflow).
        Once the queue is full, the rest are counted as one overflow.
        Both are
        asked of all of them at once, in C, so that a flood of 0xFF costs
        no Python-level work per byte.
        """
        limit = self._limits.max_line_bytes
        blank = b"\n" not in middle or not middle.translate(None, _BLANK)
        if blank and max(map(len, segments), default=0) <= limit:
            return []
        return [segment for segment in segments
                if (b"\n" in segment and segment.strip())
                or len(segment) > limit]

    def pop(self) -> typing.Optional[Item]:
        """Return the next item, or None when more input is needed."""
        if not self._items:
            return None
        item = self._items.popleft()
        if isinstance(item, bytes):
            self._queued_bytes -= len(item)
            self._queued_lines -= 1
        return item

    def _feed_segment(self, segment: bytes) -> None:
        lines = segment.split(b"\n")
        if len(lines) > 1:
            self._end_line(lines[0])
            self._end_lines(lines[1:-1])
        self._extend_partial(lines[-1])

    def _end_lines(self, lines: typing.List[bytes]) -> None:
        """Complete lines; blank ones are keep-alives and are skipped.

        Once the queue is full, the rest are dropped and counted at once:
        a flood of short lines costs one Python call per queued line, not
        one per line sent.
        """
        for index, line in enumerate(lines):
            if not line:
                continue
            if self._full():
                dropped = sum(1 for rest in lines[index:] if rest.strip())
                self._overflow("buffer_full", "lines arrive faster than "
                               "they are read; line dropped", line,
                               count=dropped)
                return
            self._end_line(line)

    def _full(self) -> bool:
        return (self._queued_lines >= self._limits.max_burst
                or len(self._items) >= self._max_items - 1)

    def _extend_partial(self, piece: bytes) -> None:
        if self._discarding or not piece:
            return
        self._partial += piece
        if len(self._partial) > self._limits.max_line_bytes:
            self._overflow("line_too_long", "line longer than %d bytes"
                           % self._limits.max_line_bytes, self._partial)
            self._partial = bytearray()
            self._discarding = True

    def _end_line(self, piece: bytes) -> None:
        if self._discarding:
            self._discarding = False
            return
        if self._partial:
            piece = bytes(self._partial) + piece
            self._partial = bytearray()
        if len(piece) > self._limits.max_line_bytes:
            self._overflow("line_too_long", "line longer than %d bytes"
                           % self._limits.max_line_bytes, piece)
        elif piece.strip():
            self._queue_line(piece)

    def _queue_line(self, line: bytes) -> None:
        room = self._limits.max_buffer_bytes - self._limits.max_line_bytes
        if (self._queued_bytes + len(line) > room
                or self._queued_lines >= self._limits.max_burst):
            self._overflow("buffer_full", "lines arrive faster than they "
                           "are read; line dropped", line)
            return
        if self._append(line):
            self._queued_bytes += len(line)
            self._queued_lines += 1

    def _append(self, item: Item) -> bool:
        if len(self._items) < self._max_items - 1:
            self._items.append(item)
            return True
        self._overflow("buffer_full", "too many unread lines and markers; "
                       "input dropped", b"", room=True)
        return False

    def _overflow(self, kind: str, detail: str,
                  data: typing.Union[bytes, bytearray],
                  room: bool = False, count: int = 1) -> None:
        last = self._items[-1] if self._items else None
        if isinstance(last, Overflow) and last.kind == kind:
            last.count += count
            return
        report = Overflow(kind, detail, bytes(data[:errors.EXCERPT_BYTES + 1]),
                          count)
        if room:
            self._items.append(report)
        else:
            self._append(report)

    def _resync(self) -> None:
        self._partial = bytearray()
        self._discarding = False
        if not self._items or self._items[-1] is not RESYNC:
            self._append(RESYNC)

    def _close(self) -> None:
        if self._partial and not self._discarding:
            self._overflow("truncated", "stream closed in the middle of a "
                           "line", self._partial)
        self._partial = bytearray()
        self._closed = True
        self._items.append(EOF)  # one past the bound, once per stream
