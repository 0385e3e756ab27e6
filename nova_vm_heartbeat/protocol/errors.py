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

"""Errors of the heartbeat protocol.

The hierarchy::

    ProtocolError
     +-- LocalProtocolError    we broke the protocol (a bug on our side, or
     |                         a caller using the API out of order)
     +-- RemoteProtocolError   the peer broke it (malformed, oversized,
                               out-of-order or too frequent messages)

A :class:`RemoteProtocolError` is data, not a crash: the connection has
already discarded the offending input and resynchronised, so the caller
counts it (by :attr:`RemoteProtocolError.kind`) and carries on.
"""

from __future__ import annotations

#: How many bytes of peer input an error message quotes at most.
EXCERPT_BYTES = 64


def excerpt(data: bytes | str, limit: int = EXCERPT_BYTES) -> str:
    """Return a short, printable, escaped quote of peer-supplied data."""
    if isinstance(data, str):
        data = data.encode("utf-8", "replace")
    text = repr(bytes(data[:limit]))[2:-1]
    return text + ("..." if len(data) > limit else "")


class ProtocolError(Exception):
    """Base class of every protocol error."""


class LocalProtocolError(ProtocolError):
    """We tried to do something the protocol does not allow."""


class RemoteProtocolError(ProtocolError):
    """The peer sent something the protocol does not allow.

    :param kind: a short stable token naming the fault, suitable as a
        metric label (one of :data:`REMOTE_ERROR_KINDS`).
    :param detail: a human readable explanation.
    :param data: the offending input; only an escaped excerpt is kept.
    :param count: how many pieces of input this one error stands for
        (input dropped in bulk, once the line queue is full).
    """

    def __init__(self, kind: str, detail: str, data: bytes | str = b"",
                 count: int = 1):
        self.kind = kind
        self.detail = detail
        self.count = count
        self.excerpt = excerpt(data) if data else ""
        message = "%s: %s" % (kind, detail)
        if self.excerpt:
            message += " (input: %s)" % self.excerpt
        super().__init__(message)


#: Every value :attr:`RemoteProtocolError.kind` can take.
REMOTE_ERROR_KINDS = (
    "line_too_long",     # a line exceeded Limits.max_line_bytes
    "buffer_full",       # complete lines arrived faster than they were read
    "truncated",         # the peer closed in the middle of a line
    "invalid_utf8",      # the line is not UTF-8
    "invalid_json",      # the line is not one JSON object
    "too_deep",          # JSON nesting exceeded Limits.max_depth
    "invalid_field",     # a field is missing, of the wrong type or too big
    "unknown_type",      # the message type is not in the vocabulary
    "version",           # the message's protocol version is not acceptable
    "unexpected",        # the message is not allowed in this state
    "stale_response",    # a response matches no outstanding challenge
    "rate_limited",      # more messages than Limits.max_messages_per_second
)
