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

"""A bounded on-disk queue of notifications, and the threads that empty it.

:meth:`Outbox.put` takes the notification, numbers it and returns at
once: it does no disk I/O, so the monitor thread never waits for a disk,
let alone a broker. A writer thread writes what was put to disk, in
order, in batches (:mod:`.spool`: a file each, fsynced, renamed, then
one directory fsync per batch). A delivery thread hands the files that
are on disk, oldest first, to a ``deliver`` callable and deletes each one
only once ``deliver`` returned, that is once the destination took it.
While it fails, the thread backs off (1 s, doubling, up to 30 s) and
tries the same notification again; nothing behind it overtakes it.

Durability
    A notification is delivered only after it is durable on disk, and is
    deleted only after it was delivered. Between :meth:`Outbox.put` and
    the end of the writer's batch (typically a few milliseconds, one
    fsync per notification) it exists only in memory: a crash of the
    process then loses it. :meth:`Outbox.flush` waits for the writer, and
    :meth:`Outbox.stop` flushes first, so a clean stop loses nothing. A
    new :class:`Outbox` on the same directory (after a restart) continues
    the sequence and delivers what the old one left, oldest first.

Bounds
    At most ``max_items`` notifications wait, in memory or on disk. When
    a new one arrives and the outbox is full, the oldest waiting one is
    deleted, with an ERROR naming it, and :attr:`Outbox.dropped` counts
    it. The one being delivered and the batch being written at that
    moment are not dropped (the bound applies to them once written).

Damaged files
    A file that cannot be read or parsed, or that ``deliver`` rejects with
    :class:`~nova_vm_heartbeat.exception.Undeliverable`, is renamed to
    ``<name>.bad``, logged, and skipped: it is left for an operator and
    never retried.

Delivery is at least once: a notification delivered just before a crash,
and not yet deleted, is delivered again after the restart. Consumers drop
duplicates by the payload's ``verdict_id``.
"""

from __future__ import annotations

import collections
import logging
import threading
import time
import typing

from nova_vm_heartbeat.common.backoff import Backoff
from nova_vm_heartbeat import exception
from nova_vm_heartbeat.notifications.payload import Notification
from nova_vm_heartbeat.sinks import spool as spool_mod

LOG = logging.getLogger(__name__)

Deliver = typing.Callable[[Notification], None]

#: Most notifications the writer takes in one batch.
MAX_BATCH = 256


def _describe(notification: Notification) -> str:
    """``event_type for instance <uuid>``, for log messages."""
    data = notification.payload.get("nova_object.data", {})
    instance = data.get("instance_uuid") if isinstance(data, dict) else None
    return "%s for instance %s" % (notification.event_type, instance)


class Outbox:
    """Notifications kept on disk, written and delivered by threads.

    :param directory: where the files live; created if missing.
    :param deliver: sends one notification; returns once the destination
        accepted it, raises :class:`~nova_vm_heartbeat.exception.
        Undeliverable` for a notification no retry will deliver, and
        anything else for a failure worth retrying.
    :param max_items: most notifications that wait.
    :param backoff_initial: first pause after a failure, in seconds.
    :param backoff_max: longest pause after failures, in seconds.
    """

    def __init__(self, directory: str, deliver: Deliver,
                 max_items: int = 10000, backoff_initial: float = 1.0,
                 backoff_max: float = 30.0):
        if max_items < 1:
            raise ValueError("max_items must be at least 1")
        self.directory = directory
        self.max_items = max_items
        self._spool = spool_mod.Spool(directory)
        self._deliver = deliver
        self._backoff_initial = backoff_initial
        self._backoff_max = backoff_max
        self._lock = threading.Condition()
        #: Put, not on disk yet (the writer's input), oldest first.
        self._unwritten: typing.Deque[spool_mod.Entry] = collections.deque()
        #: Being written by the writer now.
        self._writing = 0
        #: Whether the writer is writing or deleting files now.
        self._writer_busy = False
        #: On disk, waiting for delivery, oldest first.
        self._waiting: typing.Deque[int] = collections.deque()
        self._in_flight: typing.Optional[int] = None
        #: What the waiting notifications are, for the log.
        self._described: typing.Dict[int, str] = {}
        #: Dropped while on disk: the writer deletes their files.
        self._doomed: typing.List[int] = []
        self._next_sequence = 1
        self._prepared = False
        self._writer: typing.Optional[threading.Thread] = None
        self._stopping = threading.Event()
        self._thread: typing.Optional[threading.Thread] = None
        #: Notifications deleted unsent since this object was created.
        self.dropped = 0
        #: Notifications delivered since this object was created.
        self.delivered = 0

    # -- the producer side (any thread) -------------------------------------

    def put(self, notification: Notification) -> None:
        """Take ``notification`` for delivery and return, without I/O.

        The writer thread puts it on disk; a notification it cannot write
        (disk full, permissions) is logged at ERROR and counted in
        :attr:`dropped`.

        :raises OutboxUnavailable: the directory cannot be created or
            listed (raised by :meth:`start` already, if it ran first).
        """
        self._prepare()
        with self._lock:
            self._unwritten.append((self._next_sequence, notification))
            self._next_sequence += 1
            self._trim()
            self._wake_writer()

    def _wake_writer(self) -> None:
        """Start the writer if it is idle, and tell it; lock held."""
        if self._writer is None:
            self._writer = threading.Thread(
                target=self._write_loop, daemon=True,
                name="heartbeat-outbox-writer")
            self._writer.start()
        self._lock.notify_all()

    def flush(self, timeout: float = 5.0) -> bool:
        """Wait until everything put so far is on disk (or dropped).

        :returns: whether it is, within ``timeout`` seconds.
        """
        deadline = time.monotonic() + timeout
        with self._lock:
            while self._unwritten or self._doomed or self._writer_busy:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._lock.wait(left)
        return True

    def depth(self) -> int:
        """How many notifications are waiting or being delivered."""
        self._prepare()
        with self._lock:
            return (len(self._unwritten) + self._writing
                    + len(self._waiting) + (self._in_flight is not None))

    # -- life cycle ----------------------------------------------------------

    def start(self) -> None:
        """Start delivering, first what a previous process left."""
        self._prepare()
        if self._thread is not None and self._thread.is_alive():
            if not self._stopping.is_set():
                return  # already started
            self._thread.join()  # stopped while inside deliver()
        self._stopping.clear()
        self._thread = threading.Thread(
            target=self._run, name="heartbeat-outbox", daemon=True)
        self._thread.start()
        LOG.info("Outbox %(dir)s: %(depth)d notifications waiting",
                 {"dir": self.directory, "depth": self.depth()})

    def stop(self, timeout: float = 1.0) -> bool:
        """Write what was put to disk, then stop delivering.

        Each step gets up to ``timeout`` seconds. What is not delivered
        stays on disk for the next start.
        :returns: whether everything put is on disk and the delivery
            thread has ended; it has not if it is still inside ``deliver``
            (it then ends by itself).
        """
        flushed = self.flush(timeout)
        if not flushed:
            LOG.warning("Outbox %(dir)s: %(n)d notifications not yet on "
                        "disk after %(t).1f s; they are lost if the "
                        "process exits now",
                        {"dir": self.directory, "t": timeout,
                         "n": len(self._unwritten) + self._writing})
        self._stopping.set()
        with self._lock:
            self._lock.notify_all()
        thread = self._thread
        if thread is None:
            return flushed
        thread.join(timeout)
        if thread.is_alive():
            LOG.warning("Outbox %(dir)s: still delivering after %(t).1f s; "
                        "stopping anyway, %(depth)d notifications stay on "
                        "disk", {"dir": self.directory, "t": timeout,
                                 "depth": self.depth()})
            return False
        self._thread = None
        return flushed

    def _prepare(self) -> None:
        """Create the directory and learn what it holds, once."""
        with self._lock:
            if self._prepared:
                return
            waiting, self._next_sequence = self._spool.scan()
            self._waiting.extend(waiting)
            self._trim()
            self._prepared = True

    # -- the bound -------------------------------------------------------

    def _trim(self) -> None:
        """Drop the oldest waiting notifications beyond the bound.

        Called with the lock held, on any thread: no disk I/O here, the
        writer deletes the files.
        """
        while len(self._waiting) + len(self._unwritten) > self.max_items:
            if self._waiting:
                sequence = self._waiting.popleft()
                what = self._described.pop(
                    sequence, "a notification left by a previous run")
                self._doomed.append(sequence)
                self._wake_writer()
            else:
                sequence, notification = self._unwritten.popleft()
                what = _describe(notification)
            self.dropped += 1
            LOG.error("Outbox %(dir)s is full (%(max)d waiting): dropped "
                      "the oldest notification, %(what)s (%(name)s); "
                      "%(dropped)d dropped so far",
                      {"dir": self.directory, "max": self.max_items,
                       "what": what, "name": spool_mod.file_name(sequence),
                       "dropped": self.dropped})

    # -- the writer thread -----------------------------------------------

    def _write_loop(self) -> None:
        while True:
            with self._lock:
                while not self._unwritten and not self._doomed:
                    if not self._lock.wait(1.0) and not (
                            self._unwritten or self._doomed):
                        self._writer = None  # idle: put() starts another
                        return
                batch = [self._unwritten.popleft() for _ in range(
                    min(MAX_BATCH, len(self._unwritten)))]
                doomed, self._doomed = self._doomed, []
                self._writing = len(batch)
                self._writer_busy = True
            for sequence in doomed:
                self._spool.unlink(spool_mod.file_name(sequence))
            written = self._spool.write_batch(batch, self._lost)
            durable = set(written)
            with self._lock:
                self._writing = 0
                self._writer_busy = False
                for sequence, notification in batch:
                    if sequence in durable:
                        self._described[sequence] = _describe(notification)
                self._waiting.extend(written)
                self._trim()
                self._lock.notify_all()

    def _lost(self, entry: spool_mod.Entry, err: OSError) -> None:
        with self._lock:
            self.dropped += 1
            dropped = self.dropped
        LOG.error("Could not keep %(what)s in the outbox %(dir)s, it "
                  "is lost (%(dropped)d dropped so far): %(err)s",
                  {"what": _describe(entry[1]), "dir": self.directory,
                   "dropped": dropped, "err": err})

    # -- the delivery thread ---------------------------------------------

    def _run(self) -> None:
        backoff = Backoff(self._backoff_initial, self._backoff_max)
        while True:
            sequence = self._take()
            if sequence is None:
                return
            if self._attempt(sequence):
                backoff.reset()
                continue
            self._give_back(sequence)
            if self._pause(backoff.next()):
                return

    def _take(self) -> typing.Optional[int]:
        """Wait for the oldest notification on disk; None once stopping."""
        with self._lock:
            while not self._waiting and not self._stopping.is_set():
                self._lock.wait()
            if self._stopping.is_set():
                return None
            self._in_flight = self._waiting.popleft()
            return self._in_flight

    def _give_back(self, sequence: int) -> None:
        with self._lock:
            self._in_flight = None
            self._waiting.appendleft(sequence)
            self._trim()

    def _done(self) -> None:
        with self._lock:
            if self._in_flight is not None:
                self._described.pop(self._in_flight, None)
            self._in_flight = None

    def _attempt(self, sequence: int) -> bool:
        """Deliver one notification; False if it is worth retrying."""
        try:
            notification = self._spool.read(sequence)
        except (OSError, ValueError, KeyError, TypeError) as err:
            self._spool.set_aside(sequence, "unreadable (%s)" % err)
            self._done()
            return True
        try:
            self._deliver(notification)
        except exception.Undeliverable as err:
            self._spool.set_aside(sequence, str(err))
            self._done()
            return True
        except Exception as err:
            LOG.warning("Could not deliver %(what)s (%(depth)d waiting), "
                        "trying again later: %(err)s",
                        {"what": _describe(notification),
                         "depth": self.depth(), "err": err})
            return False
        self._spool.unlink(spool_mod.file_name(sequence))
        self.delivered += 1
        self._done()
        return True

    def _pause(self, delay: float) -> bool:
        """Wait ``delay`` seconds; True if asked to stop meanwhile."""
        return self._stopping.wait(delay)
