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

"""What ``nova-vm-heartbeat-guest run`` is told to do."""

from __future__ import annotations

import dataclasses
import typing

from nova_vm_heartbeat.guest import checks
from nova_vm_heartbeat.guest import listener
from nova_vm_heartbeat.guest import port
from nova_vm_heartbeat.guest import session
from nova_vm_heartbeat.guest import shutdown


@dataclasses.dataclass(frozen=True)
class Settings:
    """The agent daemon's settings, with the defaults of a real guest."""

    #: The virtio-serial port, or ``unix:/path`` for a socket stand-in.
    port: str = port.DEFAULT_PORT
    #: Where applications find the API socket.
    socket: str = listener.DEFAULT_SOCKET
    #: The group that may use the API socket (None: root's group only).
    socket_group: typing.Optional[str] = None
    checks_dir: str = checks.DEFAULT_DIR
    check_interval: float = checks.DEFAULT_INTERVAL
    check_timeout: float = checks.DEFAULT_TIMEOUT
    #: Written by init scripts: ``reboot`` or ``shutdown`` (see
    #: :mod:`.shutdown`); empty to ignore.
    shutdown_reason_file: str = shutdown.DEFAULT_REASON_FILE
    #: Seconds to wait for ``welcome`` before saying hello again.
    hello_timeout: float = session.HELLO_TIMEOUT
    #: Seconds to wait for ``bye`` to leave when stopping.
    bye_timeout: float = 2.0
