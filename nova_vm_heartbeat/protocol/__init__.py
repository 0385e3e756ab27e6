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

"""The heartbeat channel protocol: a sans-IO codec for both ends.

Nothing here reads a socket, a clock or a thread: callers bring the bytes
and the time. Standard library only, so the guest agent can use it on the
guest's own Python (3.8 or newer).

The normative specification is ``doc/source/reference/protocol.rst``.
"""

from nova_vm_heartbeat.protocol.connection import Connection
from nova_vm_heartbeat.protocol.connection import GUEST
from nova_vm_heartbeat.protocol.connection import HOST
from nova_vm_heartbeat.protocol.connection import NEED_DATA
from nova_vm_heartbeat.protocol.connection import negotiate
from nova_vm_heartbeat.protocol.errors import LocalProtocolError
from nova_vm_heartbeat.protocol.errors import ProtocolError
from nova_vm_heartbeat.protocol.errors import REMOTE_ERROR_KINDS
from nova_vm_heartbeat.protocol.errors import RemoteProtocolError
from nova_vm_heartbeat.protocol.events import Ack
from nova_vm_heartbeat.protocol.events import AckSubject
from nova_vm_heartbeat.protocol.events import Bye
from nova_vm_heartbeat.protocol.events import ByeReason
from nova_vm_heartbeat.protocol.events import Challenge
from nova_vm_heartbeat.protocol.events import Component
from nova_vm_heartbeat.protocol.events import ConnectionClosed
from nova_vm_heartbeat.protocol.events import Error
from nova_vm_heartbeat.protocol.events import ErrorCode
from nova_vm_heartbeat.protocol.events import Event
from nova_vm_heartbeat.protocol.events import Health
from nova_vm_heartbeat.protocol.events import Hello
from nova_vm_heartbeat.protocol.events import Maintenance
from nova_vm_heartbeat.protocol.events import Message
from nova_vm_heartbeat.protocol.events import Notice
from nova_vm_heartbeat.protocol.events import NoticeEvent
from nova_vm_heartbeat.protocol.events import RecoveryAction
from nova_vm_heartbeat.protocol.events import Report
from nova_vm_heartbeat.protocol.events import Request
from nova_vm_heartbeat.protocol.events import Response
from nova_vm_heartbeat.protocol.events import Resync
from nova_vm_heartbeat.protocol.events import Welcome
from nova_vm_heartbeat.protocol.limits import DEFAULT_LIMITS
from nova_vm_heartbeat.protocol.limits import Limits
from nova_vm_heartbeat.protocol.schema import MAX_VERSION
from nova_vm_heartbeat.protocol.schema import MIN_VERSION
from nova_vm_heartbeat.protocol.state import SessionState

__all__ = [
    "Ack", "AckSubject", "Bye", "ByeReason", "Challenge", "Component",
    "Connection", "ConnectionClosed", "DEFAULT_LIMITS", "Error",
    "ErrorCode", "Event", "GUEST", "HOST", "Health", "Hello", "Limits",
    "LocalProtocolError", "MAX_VERSION", "MIN_VERSION", "Maintenance",
    "Message", "NEED_DATA", "Notice", "NoticeEvent", "ProtocolError",
    "REMOTE_ERROR_KINDS", "RecoveryAction", "RemoteProtocolError", "Report",
    "Request", "Response", "Resync", "SessionState", "Welcome", "negotiate",
]
