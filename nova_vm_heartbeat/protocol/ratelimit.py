"""A token bucket; the clock is read by the caller, never here."""

from __future__ import annotations


class TokenBucket:
    """Allows ``rate`` events per second on average, ``burst`` at once."""

    def __init__(self, rate: float, burst: int):
        self.rate = rate
        self.burst = float(burst)
        self._tokens = float(burst)
        self._last: float | None = None

    def take(self, now: float) -> bool:
        """Spend one token at time ``now``; False if none is left."""
        if self._last is not None and now > self._last:
            self._tokens = min(self.burst,
                               self._tokens + (now - self._last) * self.rate)
        if self._last is None or now > self._last:
            self._last = now
        if self._tokens < 1.0:
            return False
        self._tokens -= 1.0
        return True
