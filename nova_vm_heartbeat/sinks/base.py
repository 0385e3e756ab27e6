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

"""The notification-sink interface (namespace ``nova_vm_heartbeat.sinks``).

A sink takes notifications from the monitor thread and delivers them. It
must not block the monitor: :meth:`Sink.send` hands over and returns.
"""

from __future__ import annotations

import abc

from nova_vm_heartbeat.notifications.payload import Notification

#: The stevedore namespace sinks are loaded from.
NAMESPACE = "nova_vm_heartbeat.sinks"


class Sink(abc.ABC):
    """Delivers notifications somewhere."""

    def start(self) -> None:
        """Start delivering (threads, connections); the default has none."""

    def stop(self) -> None:
        """Stop delivering; return within about a second."""

    @abc.abstractmethod
    def send(self, notification: Notification) -> None:
        """Hand ``notification`` over for delivery and return at once.

        A sink that cannot deliver now keeps the notification (within its
        bounds) and delivers it later, or says in its documentation that
        it drops it.
        """
