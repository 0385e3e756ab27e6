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

"""Commands and replies of the QEMU Guest Agent, for heartbeat challenges.

The monitor talks to the agent through libvirt (``qemuAgentCommand``),
which owns the framing: it syncs the channel itself before every command
and hands over one reply string (:func:`parse_reply`). The challenge is
plain ``guest-sync`` with a fresh random id (:func:`libvirt_sync_command`):
only a reply echoing the current id proves that a live agent answered now,
not a stale buffer. Never ``guest-sync-delimited``: libvirt
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
from nova_vm_heartbeat.protocol.limits import DEFAULT_LIMITS
from nova_vm_heartbeat.protocol.limits import Limits

#: Ids are non-negative and fit every JSON implementation.
MAX_SYNC_ID = 2 ** 53 - 1


@dataclasses.dataclass(frozen=True)
class Returned:
    """The agent answered a command (after the sync) with a value."""

    value: object


@dataclasses.dataclass(frozen=True)
class Failed:
    """The agent answered a command with an error."""

    error_class: str
    description: str


Reply = typing.Union[Returned, Failed]


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
    the caller compares it with the id it sent.

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
