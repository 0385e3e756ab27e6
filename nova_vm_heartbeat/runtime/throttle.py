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

"""Logging what a guest (or a flapping host service) does, boundedly.

:class:`LogThrottle` is :class:`nova_vm_heartbeat.common.log_throttle.
LogThrottle` (one class for the host and the guest agent), named here for
the runtime modules that import it from this module. :class:`Once` logs a
condition when it begins and stays quiet while it lasts.
"""

from __future__ import annotations

from nova_vm_heartbeat.common.log_throttle import LogThrottle

__all__ = ["LogThrottle", "Once"]


class Once:
    """Remembers that a condition was reported, until it clears.

    ``Once.first()`` is true the first time a condition is seen after it
    was last cleared: log then, and stay quiet while it lasts.
    """

    def __init__(self) -> None:
        self.active = False

    def first(self) -> bool:
        """Whether the condition just began (it is now active)."""
        began = not self.active
        self.active = True
        return began

    def clear(self) -> bool:
        """Whether the condition was active (and is now over)."""
        ended, self.active = self.active, False
        return ended
