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

"""Worst-case guest input, by family, at any size.

Each family builds one line of exactly ``size`` bytes (newline excluded)
aimed at one way a parser can go super-linear: unterminated strings,
runs of escapes, brackets and deep nesting, long numbers, many keys,
surrogates and odd Unicode. :func:`lines` also grows a hypothesis-drawn
*unit* to any size, so that the search is not limited to the families
written here. Shared by the unit tests (ratio and invariant) and by
``benchmarks/codec_worst.py`` (microseconds per KiB at the line limit).
"""

from __future__ import annotations

import time
import typing

from hypothesis import strategies as st

from nova_vm_heartbeat import protocol
from nova_vm_heartbeat.protocol import codec

Builder = typing.Callable[[int], bytes]
#: What the ratios are measured in: this thread's CPU time.
CPU = time.thread_time


def grow(prefix: bytes, unit: bytes, suffix: bytes, size: int) -> bytes:
    """``prefix`` + ``unit`` repeated + ``suffix``, exactly ``size`` long."""
    room = max(0, size - len(prefix) - len(suffix))
    body = unit * (room // max(1, len(unit)) + 1)
    return (prefix + body[:room] + suffix)[:size]


def repeat(prefix: bytes, unit: bytes, size: int) -> bytes:
    """``prefix`` and as many whole ``unit`` as fit in ``size`` bytes.

    Whole units keep the line's structure the same at every size (a cut
    multi-byte character would make one size fail early on UTF-8).
    """
    return prefix + unit * (max(0, size - len(prefix)) // len(unit))


def _keys(size: int) -> bytes:
    pairs = b",".join(b'"k%d":0' % i for i in range(size // 6))
    return grow(b"{" + pairs, b" ", b"}", size)


def _components(size: int) -> bytes:
    body = b",".join(b'"c%d":{"status":"ok"}' % i for i in range(size // 20))
    return grow(b'{"v":1,"type":"report","health":"ok","mono":1,'
                b'"components":{' + body, b" ", b"}}", size)


#: name -> builder of a line of the given size.
FAMILIES: typing.Dict[str, Builder] = {
    # The line of the issue: brackets, then an unterminated string of
    # escaped quotes (quadratic under a backtracking string regex).
    "unterminated_escaped_quotes": lambda n: grow(b"[" * 9 + b'"', b'\\"',
                                                  b"", n),
    "unterminated_string": lambda n: grow(b'{"v":1,"type":"', b"x", b"", n),
    "escape_run": lambda n: grow(b"[" * 9 + b'"', b"\\", b"", n),
    "escaped_backslashes": lambda n: grow(b"[" * 9 + b'"', b"\\\\", b'"',
                                          n),
    "quotes_and_brackets": lambda n: grow(b"", b'["', b"", n),
    "unicode_escapes": lambda n: grow(b'{"v":1,"type":"', b"\\u00e9",
                                      b'"}', n),
    "lone_surrogates": lambda n: grow(b'{"v":1,"type":"bye","reason":"',
                                      b"\\ud800", b'"}', n),
    "odd_unicode": lambda n: grow(
        b'{"v":1,"type":"request","action":"reboot","reason":"',
        "\u202e\U0001f600\u0301\ufeff".encode("utf-8"), b'"}', n),
    "invalid_utf8": lambda n: grow(b'{"a":"', b"\xc3\x28\xed\xa0\x80",
                                   b'"}', n),
    "open_brackets": lambda n: grow(b"", b"[", b"", n),
    "deep_nesting": lambda n: grow(b"", b"[", b"", n // 2)
    + b"]" * (n - n // 2),
    "unbalanced_pairs": lambda n: grow(b"[" * 9, b"[]", b"]", n),
    "closing_first": lambda n: grow(b"]", b"[]", b"", n),
    "deep_objects": lambda n: grow(b"", b'{"a":', b"", n),
    "long_integer": lambda n: grow(b'{"v":1,"type":"bye","x":', b"9",
                                   b"}", n),
    "long_float": lambda n: grow(b'{"v":1,"type":"bye","x":0.', b"1",
                                 b"e999}", n),
    "many_keys": _keys,
    "duplicate_keys": lambda n: grow(b"{", b'"a":0,', b'"a":0}', n),
    "many_components": _components,
    "whitespace": lambda n: grow(b"{", b" ", b"}", n),
}


def decode_cost(line: bytes, repeat: int = 5,
                clock: typing.Callable[[], float] = time.perf_counter
                ) -> float:
    """The least time, in seconds, :func:`codec.decode_line` takes.

    ``clock`` may be :func:`time.thread_time`, to count this thread's CPU
    time only (not the time other processes took the CPU from it).
    """
    best = float("inf")
    for _ in range(repeat):
        start = clock()
        try:
            codec.decode_line(line, protocol.DEFAULT_LIMITS)
        except protocol.RemoteProtocolError:
            pass
        best = min(best, clock() - start)
    return best


def cost_ratio(build: Builder, small: int = 8192, large: int = 16384,
               repeat: int = 5) -> float:
    """Cost of the ``large`` line over the ``small`` one, one run.

    The two are timed alternately, in this thread's CPU time, so that
    neither other processes on a shared machine nor a change of load
    weighs on one more than on the other. Linear code gives about 2
    (less when a fixed cost dominates); quadratic code gives 4.
    """
    small_line, large_line = build(small), build(large)
    small_cost = large_cost = float("inf")
    for _ in range(repeat):
        small_cost = min(small_cost, decode_cost(small_line, 1, CPU))
        large_cost = min(large_cost, decode_cost(large_line, 1, CPU))
    return large_cost / small_cost


#: name -> the unit a flooding guest repeats, for whole reads.
STREAM_UNITS: typing.Dict[str, bytes] = {
    "garbage": bytes(range(256)),
    "resync_flood": b"\xff",
    "resync_newlines": b"\xff\n",
    "resync_lines": b"\xff[\n",
    "resync_text": b"\xffx",
    "newline_flood": b"\n",
    "short_bad_lines": b"[\n",
    "worst_lines": FAMILIES["unterminated_escaped_quotes"](16383) + b"\n",
    "hellos": b'{"v":1,"type":"hello","version":1,"min_version":1,'
              b'"agent":"a","agent_version":"1","boot_id":"b","mono":1}\n',
}


def stream_cost(data: bytes,
                clock: typing.Callable[[], float] = time.perf_counter
                ) -> float:
    """Time a host connection takes to take ``data`` and drain it."""
    conn = protocol.Connection(protocol.HOST, clock=lambda: 0.0)
    start = clock()
    conn.receive_data(data)
    while True:
        try:
            if conn.next_event() is protocol.NEED_DATA:
                break
        except protocol.RemoteProtocolError:
            continue
    return clock() - start


def stream_ratio(unit: bytes, small: int = 32768, large: int = 65536,
                 repeat: int = 5) -> float:
    """Like :func:`cost_ratio`, for a read of ``large`` over ``small``."""
    small_data, large_data = repeat_unit(unit, small), repeat_unit(unit,
                                                                   large)
    small_cost = large_cost = float("inf")
    for _ in range(repeat):
        small_cost = min(small_cost, stream_cost(small_data, CPU))
        large_cost = min(large_cost, stream_cost(large_data, CPU))
    return large_cost / small_cost


def repeat_unit(unit: bytes, size: int) -> bytes:
    return unit * max(1, size // len(unit))


#: Bytes that matter to a JSON scanner, for drawn units.
_ALPHABET = [b'"', b"\\", b"[", b"]", b"{", b"}", b":", b",", b"0", b"9",
             b".", b"e", b"-", b" ", b"a", b"u", b"\\u", b"\\ud800",
             b"\xc3", b"\xe2\x80\xae", b"\xf0\x9f\x98\x80", b"\x00",
             b'"k":', b"true", b"null", b"NaN"]
units = st.lists(st.sampled_from(_ALPHABET), min_size=1,
                 max_size=6).map(b"".join)
prefixes = st.sampled_from([b"", b"[" * 9, b'{"v":1,"type":"', b"[" * 9
                            + b'"', b'{"v":1,"type":"report","components":{'])


def lines(max_size: int = 16384) -> st.SearchStrategy[bytes]:
    """Adversarial lines: a prefix and a drawn unit grown to a size."""
    return st.builds(grow, prefixes, units, st.sampled_from([b"", b'"]}']),
                     st.integers(1, max_size))
