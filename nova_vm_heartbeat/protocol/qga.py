"""Framing of the QEMU Guest Agent channel, for heartbeat challenges.

On a raw byte stream (:class:`QgaSession`, a socket to the agent's
chardev) the challenge is ``guest-sync-delimited`` with a fresh random id:
the agent answers with a 0xFF byte followed by ``{"return": id}``.
Everything before that 0xFF, and every reply whose id is not the one just
asked for (a stale answer to an earlier, timed-out request), is skipped.
Only a reply with the current id proves that a live agent answered now.

Through libvirt (:func:`libvirt_sync_command` and :func:`parse_reply`),
libvirt owns the framing: it syncs the channel itself before every
command and hands over one reply string. The challenge there is plain
``guest-sync`` with a fresh id, never ``guest-sync-delimited``: libvirt
cannot decode the 0xFF byte of the delimited reply, fails the command and
marks the guest agent as broken for every later command of the domain,
Nova's own quiesce and set-password included.
"""

from __future__ import annotations

import dataclasses
import json
import typing

from nova_vm_heartbeat.protocol import codec
from nova_vm_heartbeat.protocol import errors
from nova_vm_heartbeat.protocol import framing
from nova_vm_heartbeat.protocol.limits import DEFAULT_LIMITS
from nova_vm_heartbeat.protocol.limits import Limits

#: Ids are non-negative and fit every JSON implementation.
MAX_SYNC_ID = 2 ** 53 - 1


@dataclasses.dataclass(frozen=True)
class Synced:
    """The agent echoed the current sync id: it is alive and in step."""

    sync_id: int


@dataclasses.dataclass(frozen=True)
class Returned:
    """The agent answered a command (after the sync) with a value."""

    value: object


@dataclasses.dataclass(frozen=True)
class Failed:
    """The agent answered a command with an error."""

    error_class: str
    description: str


Reply = typing.Union[Synced, Returned, Failed]


def sync_command(sync_id: int) -> str:
    """The ``guest-sync-delimited`` command text, for a raw stream."""
    return _sync("guest-sync-delimited", sync_id)


def libvirt_sync_command(sync_id: int) -> str:
    """The ``guest-sync`` command text, for ``qemuAgentCommand``.

    Never send ``guest-sync-delimited`` through libvirt (module doc).
    """
    return _sync("guest-sync", sync_id)


def _sync(execute: str, sync_id: int) -> str:
    if not 0 <= sync_id <= MAX_SYNC_ID:
        raise errors.LocalProtocolError("sync id out of range")
    return json.dumps({"execute": execute, "arguments": {"id": sync_id}},
                      separators=(",", ":"))


def command(name: str, arguments: typing.Optional[dict[str, object]] = None
            ) -> str:
    """The command text for ``name`` with optional ``arguments``."""
    request: dict[str, object] = {"execute": name}
    if arguments is not None:
        request["arguments"] = arguments
    return json.dumps(request, separators=(",", ":"))


def parse_reply(text: typing.Union[str, bytes],
                limits: Limits = DEFAULT_LIMITS) -> Reply:
    """Decode one agent reply, with or without its leading 0xFF.

    A ``return`` value that is an integer is reported as :class:`Returned`;
    the caller compares it with the id it sent (see :meth:`QgaSession`).

    :raises RemoteProtocolError: the reply is not a valid agent reply.
    """
    if isinstance(text, str):
        # The 0xFF byte may reach us decoded as U+00FF or U+FFFD.
        text = text.lstrip("\xff\ufffd").encode("utf-8")
    line = bytes(text).lstrip(b"\xff").strip()
    if len(line) > limits.max_line_bytes:
        raise errors.RemoteProtocolError(
            "line_too_long", "reply longer than %d bytes"
            % limits.max_line_bytes, line)
    document = codec.parse_json_line(line, limits)
    if "return" in document:
        return Returned(document["return"])
    error = document.get("error")
    if isinstance(error, dict):
        return Failed(str(error.get("class", ""))[:limits.max_string_chars],
                      str(error.get("desc", ""))[:limits.max_string_chars])
    raise errors.RemoteProtocolError(
        "invalid_field", "reply has neither 'return' nor 'error'", line)


class QgaSession:
    """Talks to a guest agent over a raw byte stream, resyncing each time.

    Call :meth:`sync` to start a challenge and send its bytes; feed what
    the agent sends with :meth:`receive_data`; :meth:`next_reply` yields
    :class:`Synced` once the matching answer arrives, then command replies.
    """

    def __init__(self, limits: Limits = DEFAULT_LIMITS):
        self.limits = limits
        self._buffer = framing.LineBuffer(limits)
        self._expected: typing.Optional[int] = None
        self._after_marker = False
        #: Replies skipped because they answered an earlier request.
        self.stale_replies = 0

    @property
    def buffered_bytes(self) -> int:
        return self._buffer.buffered_bytes

    def sync(self, sync_id: int) -> bytes:
        """Bytes of a new ``guest-sync-delimited`` for ``sync_id``.

        A leading 0xFF makes the agent drop any partial request.
        """
        text = sync_command(sync_id)
        self._expected = sync_id
        self._after_marker = False
        return b"\xff" + text.encode("ascii") + b"\n"

    def request(self, name: str,
                arguments: typing.Optional[dict[str, object]] = None) -> bytes:
        """Bytes of a command; only valid after :class:`Synced`."""
        if self._expected is not None:
            raise errors.LocalProtocolError("not in sync with the agent")
        return command(name, arguments).encode("utf-8") + b"\n"

    def receive_data(self, data: bytes) -> None:
        self._buffer.feed(bytes(data))

    def next_reply(self) -> typing.Optional[Reply]:
        """The next reply that counts, or None until more data arrives.

        :raises RemoteProtocolError: a reply was malformed (discarded).
        """
        while True:
            item = self._buffer.pop()
            if item is None or item is framing.EOF:
                return None
            if item is framing.RESYNC:
                self._after_marker = True
                continue
            if isinstance(item, framing.Overflow):
                raise item.error()
            assert isinstance(item, bytes)
            reply = self._handle(item)
            if reply is not None:
                return reply

    def _handle(self, line: bytes) -> typing.Optional[Reply]:
        expected = self._expected
        if expected is None:
            return parse_reply(line, self.limits)
        if not self._after_marker:
            self.stale_replies += 1
            return None
        reply = parse_reply(line, self.limits)
        self._after_marker = False
        if isinstance(reply, Returned) and reply.value == expected \
                and not isinstance(reply.value, bool):
            self._expected = None
            return Synced(expected)
        self.stale_replies += 1
        return None
