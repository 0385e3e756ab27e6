"""Growing delays between two attempts to reach something that is gone."""

from __future__ import annotations


class Backoff:
    """Delays that double from ``first`` up to ``cap``.

    Used for the heartbeat sockets (QEMU restarts) and the libvirt
    connection (libvirtd restarts): a missing peer costs a few attempts a
    minute, not a busy loop.
    """

    def __init__(self, first: float = 0.5, cap: float = 30.0):
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
