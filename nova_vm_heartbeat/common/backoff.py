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

"""Growing delays between attempts to reach a peer that is gone.

Pure arithmetic, no clock: both ends use it, the guest agent to reopen its
port, the host to reconnect sockets, libvirt and the broker.
"""

from __future__ import annotations


class Backoff:
    """Delays that double from ``first`` up to ``cap``.

    A missing peer costs a few attempts a minute, never a busy loop.
    """

    def __init__(self, first: float, cap: float):
        self.first = first
        self.cap = max(first, cap)
        self._next = first

    def next(self) -> float:
        """The delay to wait now; the one after it is twice as long."""
        delay = self._next
        self._next = min(self._next * 2, self.cap)
        return delay

    def reset(self) -> None:
        """The peer is back: start again from ``first``."""
        self._next = self.first
