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

"""The outbox's directory: one numbered file per notification.

A file is named ``<sequence>.json`` with a zero-padded sequence number,
so the names sort in the order the notifications were put. It is written
under a temporary name, fsynced, then renamed, so a crash never leaves
half a notification under a real name; :meth:`Spool.write_batch` syncs
the directory once for a whole batch, after the renames, which makes
them all durable at the cost of one directory fsync. A file that cannot
be used is renamed ``<name>.bad`` and left for an operator.

No threads and no policy here: :class:`~.outbox.Outbox` decides when.
"""

from __future__ import annotations

import json
import logging
import os
import re
import typing

from nova_vm_heartbeat import exception
from nova_vm_heartbeat.notifications.payload import Notification

LOG = logging.getLogger(__name__)

SUFFIX = ".json"
BAD_SUFFIX = ".bad"
TMP_PREFIX = ".tmp-"
_NAME = re.compile(r"^(\d{20})\.json(\.bad)?$")

#: A notification with its sequence number, waiting to be written.
Entry = typing.Tuple[int, Notification]


def file_name(sequence: int) -> str:
    return "%020d%s" % (sequence, SUFFIX)


class Spool:
    """Numbered notification files in one directory."""

    def __init__(self, directory: str):
        self.directory = directory

    def path(self, name: str) -> str:
        return os.path.join(self.directory, name)

    def scan(self) -> typing.Tuple[typing.List[int], int]:
        """Create the directory; what it holds, oldest first.

        Removes the temporary files of writes that never finished.
        :returns: the sequences waiting, and the next free sequence.
        :raises OutboxUnavailable: the directory cannot be made or read.
        """
        try:
            os.makedirs(self.directory, mode=0o750, exist_ok=True)
            names = os.listdir(self.directory)
        except OSError as err:
            raise exception.OutboxUnavailable(
                path=self.directory, reason=err) from err
        waiting, next_sequence = [], 1
        for name in sorted(names):
            if name.startswith(TMP_PREFIX):
                self.unlink(name)  # a write that never finished
                continue
            match = _NAME.match(name)
            if match is None:
                continue
            sequence = int(match.group(1))
            next_sequence = max(next_sequence, sequence + 1)
            if match.group(2) is None:
                waiting.append(sequence)
        return waiting, next_sequence

    def write_batch(self, entries: typing.Sequence[Entry],
                    failed: typing.Callable[[Entry, OSError], None]
                    ) -> typing.List[int]:
        """Write ``entries`` in order; the sequences now durable.

        An entry that cannot be written is passed to ``failed`` and left
        out; the others are still written.
        """
        written = []
        for entry in entries:
            try:
                self._write(*entry)
            except OSError as err:
                failed(entry, err)
                continue
            written.append(entry[0])
        if written:
            try:
                self._sync_directory()
            except OSError as err:
                LOG.warning("Outbox %(dir)s: could not sync the directory "
                            "(%(err)s); a crash now may lose the last "
                            "%(n)d notifications",
                            {"dir": self.directory, "err": err,
                             "n": len(written)})
        return written

    def _write(self, sequence: int, notification: Notification) -> None:
        data = json.dumps(notification.to_dict()).encode("utf-8")
        temporary = self.path(TMP_PREFIX + file_name(sequence))
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o640)
        try:
            with os.fdopen(fd, "wb") as stream:
                stream.write(data)
                stream.flush()
                os.fsync(stream.fileno())
            os.rename(temporary, self.path(file_name(sequence)))
        except OSError:
            self.unlink(os.path.basename(temporary))
            raise

    def _sync_directory(self) -> None:
        """Make the renames themselves durable."""
        fd = os.open(self.directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    def read(self, sequence: int) -> Notification:
        """The notification in a file.

        :raises OSError, ValueError, KeyError, TypeError: it cannot be
            read or is not a notification.
        """
        with open(self.path(file_name(sequence)), "rb") as stream:
            data = json.loads(stream.read().decode("utf-8"))
        if not isinstance(data, dict):
            raise ValueError("not a JSON object")
        notification = Notification.from_dict(data)
        if not isinstance(notification.payload, dict):
            raise ValueError("the payload is not a JSON object")
        return notification

    def unlink(self, name: str) -> None:
        try:
            os.unlink(self.path(name))
        except FileNotFoundError:
            pass
        except OSError as err:
            LOG.error("Outbox %(dir)s: could not delete %(name)s: %(err)s",
                      {"dir": self.directory, "name": name, "err": err})

    def set_aside(self, sequence: int, reason: str) -> None:
        """Rename a file ``.bad``: it is never tried again."""
        name = file_name(sequence)
        LOG.error("Outbox %(dir)s: setting %(name)s aside as "
                  "%(name)s%(bad)s, it will not be retried: %(reason)s",
                  {"dir": self.directory, "name": name, "reason": reason,
                   "bad": BAD_SUFFIX})
        try:
            os.rename(self.path(name), self.path(name + BAD_SUFFIX))
        except OSError as err:
            LOG.error("Outbox %(dir)s: could not move %(name)s aside, "
                      "deleting it: %(err)s",
                      {"dir": self.directory, "name": name, "err": err})
            self.unlink(name)
