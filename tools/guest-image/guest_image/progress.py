"""Progress messages on standard error, with the seconds since start."""

from __future__ import annotations

import sys
import time

_START = time.monotonic()


def step(message: str) -> None:
    print("[%6.1fs] %s" % (time.monotonic() - _START, message),
          file=sys.stderr, flush=True)
