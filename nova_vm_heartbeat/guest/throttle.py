"""Rate-limited logging of things a peer can make happen at will.

The host (or a local application) decides how often the agent sees bad
input; logging every occurrence would let it fill the guest's disk.
:class:`LogThrottle` lets a few messages through per key, then counts the
rest and says how many were suppressed when it next logs.
"""

from __future__ import annotations

import logging
import typing

from nova_vm_heartbeat.protocol import ratelimit


class LogThrottle:
    """At most ``burst`` messages, then one per ``period`` s, per key."""

    def __init__(self, logger: logging.Logger,
                 clock: typing.Callable[[], float],
                 period: float = 10.0, burst: int = 5):
        self._logger = logger
        self._clock = clock
        self._period, self._burst = period, burst
        self._buckets: typing.Dict[str, ratelimit.TokenBucket] = {}
        self._suppressed: typing.Dict[str, int] = {}

    def log(self, level: int, key: str, msg: str, *args: object) -> None:
        """Log ``msg % args`` unless ``key`` was logged too often lately."""
        bucket = self._buckets.get(key)
        if bucket is None:
            if len(self._buckets) > 64:  # keys are ours, but stay bounded
                self._buckets.clear()
            bucket = ratelimit.TokenBucket(1.0 / self._period, self._burst)
            self._buckets[key] = bucket
        if not bucket.take(self._clock()):
            self._suppressed[key] = self._suppressed.get(key, 0) + 1
            return
        suppressed = self._suppressed.pop(key, 0)
        if suppressed:
            msg += " (%d similar messages suppressed)"
            args += (suppressed,)
        self._logger.log(level, msg, *args)
