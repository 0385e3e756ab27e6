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
