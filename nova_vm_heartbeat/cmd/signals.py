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

"""Catching SIGTERM and SIGINT for the long-running console scripts.

Standard library only, so that :mod:`.launch` can install the handlers
before the programs' own modules (oslo.*, libvirt) are imported.
"""

from __future__ import annotations

import signal
import threading
import types
import typing


class SignalWaiter:
    """Catches SIGTERM and SIGINT while in a ``with`` block.

    The handlers are installed on the first entry (in the main thread) and
    the previous ones restored on the matching exit, so nested blocks
    share one waiter; :meth:`wait` returns the first signal caught, even
    one caught before it was called.
    """

    SIGNALS = (signal.SIGTERM, signal.SIGINT)

    def __init__(self) -> None:
        self.received: typing.Optional[int] = None
        self._event = threading.Event()
        self._previous: typing.Dict[int, typing.Any] = {}
        self._depth = 0

    def __enter__(self) -> SignalWaiter:
        if not self._depth:
            for signum in self.SIGNALS:
                self._previous[signum] = signal.signal(signum, self._handle)
        self._depth += 1
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._depth -= 1
        if self._depth:
            return
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        self._previous.clear()

    def _handle(self, signum: int,
                frame: typing.Optional[types.FrameType]) -> None:
        if self.received is None:
            self.received = signum
        self._event.set()

    def wait(self) -> int:
        """Block until a signal was caught; return it."""
        while not self._event.wait(0.5):
            pass
        assert self.received is not None
        return self.received
