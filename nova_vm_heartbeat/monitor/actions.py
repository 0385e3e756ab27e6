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

"""What the monitor asks its adapters to do: its outputs.

:meth:`.machine.InstanceMonitor.handle` and ``tick`` return lists of these
frozen objects; the runtime carries them out. The machine never performs
I/O itself.
"""

from __future__ import annotations

import dataclasses
import typing

from nova_vm_heartbeat.monitor import verdicts
from nova_vm_heartbeat.protocol import events


@dataclasses.dataclass(frozen=True)
class SendChallenge:
    """Send a heartbeat challenge with this ``seq``.

    The runtime picks an unpredictable nonce for it.
    """

    seq: int


@dataclasses.dataclass(frozen=True)
class SyncAgent:
    """Challenge QGA with ``guest-sync`` (through libvirt).

    The runtime picks a random id, waits at most ``timeout`` seconds and
    reports the outcome tagged with ``seq``.
    """

    seq: int
    timeout: float


@dataclasses.dataclass(frozen=True)
class SendAck:
    """Answer a maintenance window or recovery request."""

    subject: events.AckSubject
    accepted: bool
    granted: int = 0
    reason: str = ""


@dataclasses.dataclass(frozen=True)
class Report:
    """Report a verdict (to the notification sink)."""

    verdict: verdicts.Verdict


Action = typing.Union[SendChallenge, SyncAgent, SendAck, Report]
