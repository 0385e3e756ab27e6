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

"""A bounded on-disk queue of notifications, and the thread that empties it.

:meth:`Outbox.put` writes the notification to its own file and returns:
the monitor never waits for a broker. A delivery thread hands the files,
oldest first, to a ``deliver`` callable and deletes each one only once
``deliver`` returned, that is once the destination took it. While it
fails, the thread backs off (1 s, doubling, up to 30 s) and tries the same
notification again; nothing behind it overtakes it.

On disk
    One JSON file per notification (:meth:`Notification.to_dict`), named
    ``<sequence>.json`` with a zero-padded sequence number, so the names
    sort in the order the notifications were put. A file is written under
    a temporary name, fsynced, then renamed, so a crash never leaves half
    a notification under a real name. A new :class:`Outbox` on the same
    directory (after a restart) continues the sequence and delivers what
    the old one left, oldest first.

Bounds
    At most ``max_items`` notifications wait. When a new one arrives and
    the outbox is full, the oldest waiting one is deleted, with an ERROR
    naming it, and :attr:`Outbox.dropped` counts it. The one being
    delivered at that moment is not dropped, so the directory holds at
    most ``max_items + 1`` files.

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
import json
import logging
import os
import re
import threading
import typing

from nova_vm_heartbeat import exception
from nova_vm_heartbeat.notifications.payload import Notification
from nova_vm_heartbeat.protocol.backoff import Backoff

LOG = logging.getLogger(__name__)

Deliver = typing.Callable[[Notification], None]

_SUFFIX = ".json"
_BAD_SUFFIX = ".bad"
_TMP_PREFIX = ".tmp-"
_NAME = re.compile(r"^(\d{20})\.json(\.bad)?$")


def _file_name(sequence: int) -> str:
    return "%020d%s" % (sequence, _SUFFIX)


def _describe(notification: Notification) -> str:
    """``event_type for instance <uuid>``, for log messages."""
    data = notification.payload.get("nova_object.data", {})
    instance = data.get("instance_uuid") if isinstance(data, dict) else None
    return "%s for instance %s" % (notification.event_type, instance)


class Outbox:
    """Notifications waiting on disk, delivered by a thread of their own.

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
        self._deliver = deliver
        self._backoff_initial = backoff_initial
        self._backoff_max = backoff_max
        self._lock = threading.Condition()
        self._waiting: typing.Deque[int] = collections.deque()
        self._in_flight: typing.Optional[int] = None
        self._next_sequence = 1
        self._prepared = False
        self._stopping = threading.Event()
        self._thread: typing.Optional[threading.Thread] = None
        #: Notifications deleted unsent since this object was created.
        self.dropped = 0
        #: Notifications delivered since this object was created.
        self.delivered = 0

    # -- the producer side (any thread) -------------------------------------

    def put(self, notification: Notification) -> None:
        """Keep ``notification`` on disk for delivery and return.

        A notification that cannot be written (disk full, permissions) is
        logged at ERROR and counted in :attr:`dropped`, without raising.

        :raises OutboxUnavailable: the directory cannot be created or
            listed (raised by :meth:`start` already, if it ran first).
        """
        self._prepare()
        with self._lock:
            sequence = self._next_sequence
            self._next_sequence += 1
            try:
                self._write(sequence, notification)
            except OSError as err:
                self.dropped += 1
                LOG.error("Could not keep %(what)s in the outbox %(dir)s, it "
                          "is lost (%(dropped)d dropped so far): %(err)s",
                          {"what": _describe(notification),
                           "dir": self.directory, "dropped": self.dropped,
                           "err": err})
                return
            self._waiting.append(sequence)
            self._trim()
            self._lock.notify()

    def depth(self) -> int:
        """How many notifications are waiting or being delivered."""
        self._prepare()
        with self._lock:
            return len(self._waiting) + (self._in_flight is not None)

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
        """Stop delivering, within ``timeout`` seconds.

        What is not delivered stays on disk for the next start.
        :returns: whether the delivery thread has ended; it has not if it
            is still inside ``deliver`` (it then ends by itself).
        """
        self._stopping.set()
        with self._lock:
            self._lock.notify_all()
        thread = self._thread
        if thread is None:
            return True
        thread.join(timeout)
        if thread.is_alive():
            LOG.warning("Outbox %(dir)s: still delivering after %(t).1f s; "
                        "stopping anyway, %(depth)d notifications stay on "
                        "disk", {"dir": self.directory, "t": timeout,
                                 "depth": self.depth()})
            return False
        self._thread = None
        return True

    # -- files -----------------------------------------------------------

    def _path(self, name: str) -> str:
        return os.path.join(self.directory, name)

    def _prepare(self) -> None:
        """Create the directory and learn what it holds, once."""
        with self._lock:
            if self._prepared:
                return
            try:
                os.makedirs(self.directory, mode=0o750, exist_ok=True)
                names = os.listdir(self.directory)
            except OSError as err:
                raise exception.OutboxUnavailable(
                    path=self.directory, reason=err) from err
            self._recover(names)
            self._prepared = True

    def _recover(self, names: typing.List[str]) -> None:
        sequences = []
        for name in sorted(names):
            if name.startswith(_TMP_PREFIX):
                self._unlink(name)  # a put() that never returned
                continue
            match = _NAME.match(name)
            if match is None:
                continue
            sequence = int(match.group(1))
            self._next_sequence = max(self._next_sequence, sequence + 1)
            if match.group(2) is None:
                sequences.append(sequence)
        self._waiting.extend(sequences)
        self._trim()

    def _write(self, sequence: int, notification: Notification) -> None:
        data = json.dumps(notification.to_dict()).encode("utf-8")
        temporary = self._path(_TMP_PREFIX + _file_name(sequence))
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o640)
        try:
            with os.fdopen(fd, "wb") as stream:
                stream.write(data)
                stream.flush()
                os.fsync(stream.fileno())
            os.rename(temporary, self._path(_file_name(sequence)))
        except OSError:
            self._unlink(os.path.basename(temporary))
            raise
        self._sync_directory()

    def _sync_directory(self) -> None:
        """Make the rename itself durable."""
        fd = os.open(self.directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    def _read(self, sequence: int) -> Notification:
        with open(self._path(_file_name(sequence)), "rb") as stream:
            data = json.loads(stream.read().decode("utf-8"))
        if not isinstance(data, dict):
            raise ValueError("not a JSON object")
        notification = Notification.from_dict(data)
        if not isinstance(notification.payload, dict):
            raise ValueError("the payload is not a JSON object")
        return notification

    def _unlink(self, name: str) -> None:
        try:
            os.unlink(self._path(name))
        except FileNotFoundError:
            pass
        except OSError as err:
            LOG.error("Outbox %(dir)s: could not delete %(name)s: %(err)s",
                      {"dir": self.directory, "name": name, "err": err})

    # -- the bound -------------------------------------------------------

    def _trim(self) -> None:
        """Drop the oldest waiting notifications beyond the bound.

        Called with the lock held.
        """
        while len(self._waiting) > self.max_items:
            sequence = self._waiting.popleft()
            self.dropped += 1
            LOG.error("Outbox %(dir)s is full (%(max)d waiting): dropped "
                      "the oldest notification, %(what)s (%(name)s); "
                      "%(dropped)d dropped so far",
                      {"dir": self.directory, "max": self.max_items,
                       "what": self._what(sequence),
                       "name": _file_name(sequence),
                       "dropped": self.dropped})
            self._unlink(_file_name(sequence))

    def _what(self, sequence: int) -> str:
        try:
            return _describe(self._read(sequence))
        except (OSError, ValueError, KeyError, TypeError):
            return "an unreadable notification"

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
        """Wait for the oldest notification; None once stopping."""
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
            self._in_flight = None

    def _attempt(self, sequence: int) -> bool:
        """Deliver one notification; False if it is worth retrying."""
        name = _file_name(sequence)
        try:
            notification = self._read(sequence)
        except (OSError, ValueError, KeyError, TypeError) as err:
            self._set_aside(name, "unreadable (%s)" % err)
            return True
        try:
            self._deliver(notification)
        except exception.Undeliverable as err:
            self._set_aside(name, str(err))
            return True
        except Exception as err:
            LOG.warning("Could not deliver %(what)s (%(depth)d waiting), "
                        "trying again later: %(err)s",
                        {"what": _describe(notification),
                         "depth": self.depth(), "err": err})
            return False
        self._unlink(name)
        self.delivered += 1
        self._done()
        return True

    def _set_aside(self, name: str, reason: str) -> None:
        LOG.error("Outbox %(dir)s: setting %(name)s aside as "
                  "%(name)s%(bad)s, it will not be retried: %(reason)s",
                  {"dir": self.directory, "name": name, "reason": reason,
                   "bad": _BAD_SUFFIX})
        try:
            os.rename(self._path(name), self._path(name + _BAD_SUFFIX))
        except OSError as err:
            LOG.error("Outbox %(dir)s: could not move %(name)s aside, "
                      "deleting it: %(err)s",
                      {"dir": self.directory, "name": name, "err": err})
            self._unlink(name)
        self._done()

    def _pause(self, delay: float) -> bool:
        """Wait ``delay`` seconds; True if asked to stop meanwhile."""
        return self._stopping.wait(delay)
