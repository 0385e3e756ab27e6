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

"""Hostile input: the invariant every channel relies on.

Whatever bytes a guest sends, fed whole or one byte at a time, the host end
yields valid events or raises RemoteProtocolError, never anything else, and
never holds more than ``max_buffer_bytes`` of the guest's input. The same
holds for the guest end facing a hostile host.
"""

from __future__ import annotations

import typing

from hypothesis import given
from hypothesis import strategies as st

from nova_vm_heartbeat import protocol
from nova_vm_heartbeat.protocol import codec
from nova_vm_heartbeat.protocol import events as ev
from nova_vm_heartbeat.protocol import qga
from tests.unit.protocol.helpers import HostGuestPair
from tests.unit.protocol import strategies

SMALL = protocol.Limits(max_line_bytes=256, max_buffer_bytes=640,
                        max_depth=4, max_string_chars=16, max_components=3,
                        max_messages_per_second=50, max_burst=6)


def _valid_lines(messages: st.SearchStrategy[ev.Message]
                 ) -> st.SearchStrategy[bytes]:
    return messages.map(lambda m: codec.encode(m, 1, protocol.DEFAULT_LIMITS))


def _mutate(data: bytes, position: int, junk: bytes) -> bytes:
    position %= len(data) + 1
    return data[:position] + junk + data[position:]


# Raw garbage, valid lines, and valid lines with junk spliced in; glued
# with the bytes that matter to the framing (newline, 0xFF, brackets).
_pieces = st.one_of(
    st.binary(max_size=200),
    _valid_lines(strategies.guest_messages),
    _valid_lines(strategies.responses),
    _valid_lines(strategies.host_messages),
    st.sampled_from([b"\n", b"\xff", b"[" * 12, b"{" * 12, b'"', b"\\",
                     b"\xc3", b"\x00", b" " * 100]),
    st.builds(_mutate, _valid_lines(strategies.messages), st.integers(),
              st.binary(min_size=1, max_size=8)),
)
streams = st.lists(_pieces, max_size=30).map(b"".join)
chunkings = st.lists(st.integers(1, 64), min_size=1, max_size=20)


def _drain_checked(conn: protocol.Connection, limits: protocol.Limits
                   ) -> int:
    """Pull every event; only events or RemoteProtocolError may come."""
    errors = 0
    assert conn.buffered_bytes <= limits.max_buffer_bytes
    while True:
        try:
            event = conn.next_event()
        except protocol.RemoteProtocolError as err:
            assert err.kind in protocol.REMOTE_ERROR_KINDS
            errors += 1
            continue
        assert conn.buffered_bytes <= limits.max_buffer_bytes
        if event is protocol.NEED_DATA:
            return errors
        assert isinstance(event, (ev.Message, ev.Resync,
                                  ev.ConnectionClosed))


def _feed(conn: protocol.Connection, data: bytes,
          sizes: typing.Sequence[int], limits: protocol.Limits) -> None:
    position, index = 0, 0
    while position < len(data):
        size = sizes[index % len(sizes)]
        conn.receive_data(data[position:position + size])
        position, index = position + size, index + 1
        _drain_checked(conn, limits)
    conn.receive_data(b"")
    _drain_checked(conn, limits)


def _qga_checked(data: bytes) -> None:
    """What libvirt hands over is the agent's: a reply or a remote error."""
    try:
        reply = qga.parse_reply(data, SMALL)
    except protocol.RemoteProtocolError:
        return
    assert isinstance(reply, (qga.Returned, qga.Failed))


def _host(limits: protocol.Limits, established: bool) -> protocol.Connection:
    pair = HostGuestPair(limits)
    if established:
        pair.handshake()
        pair.challenge()
    return pair.host


def _guest(limits: protocol.Limits) -> protocol.Connection:
    guest = protocol.Connection(protocol.GUEST, clock=lambda: 0.0,
                                limits=limits)
    guest.send(ev.Hello(1, 1, "agent", "1.0"))
    return guest


# Drawing a stream costs far more than feeding it (most pieces are
# encoded messages), so each stream drawn is used every way: fed to the
# host whole, one byte at a time and in the drawn chunks, fed to a guest
# (a hostile host), and read as a QGA reply.
@given(streams, st.booleans(), chunkings)
def test_any_stream_fed_any_way(data: bytes, established: bool,
                                sizes: typing.List[int]) -> None:
    for limits in (protocol.DEFAULT_LIMITS, SMALL):
        _feed(_host(limits, established), data, [len(data) or 1], limits)
        _feed(_host(limits, established), data, [1], limits)
        _feed(_guest(limits), data, sizes, limits)
    _feed(_host(SMALL, True), data, sizes, SMALL)
    _qga_checked(data)


@given(st.binary(max_size=4096))
def test_raw_bytes(data: bytes) -> None:
    _feed(_host(SMALL, True), data, [len(data) or 1], SMALL)
    _feed(_host(SMALL, False), data, [1], SMALL)
    _qga_checked(data)


def test_one_huge_chunk_stays_bounded() -> None:
    data = (b"x" * 10_000 + b"\n" + b'{"v":1,"type":"bye","reason":"reboot"}'
            b"\n" * 50_000 + b"\xff" * 1000) * 20
    host = _host(protocol.DEFAULT_LIMITS, True)
    host.receive_data(data)
    assert _drain_checked(host, protocol.DEFAULT_LIMITS) >= 1
