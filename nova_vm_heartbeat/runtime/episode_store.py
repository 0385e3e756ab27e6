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

"""The durable per-host record of the instances' episodes.

What a restart of the monitor (or of nova-compute) must not forget: for
each instance, its last episode number and the episode it reported and
has not yet restored (:class:`~nova_vm_heartbeat.monitor.episodes.
EpisodeRecord`). With it, a restart neither announces an open episode a
second time nor forgets the ``heartbeat_restored`` of a guest that healed
meanwhile, and every verdict keeps one ``verdict_id``.

On disk
    One small JSON file: a random ``epoch`` (chosen when the file is
    first written), when it was written (wall clock), and the records. It
    is written under a temporary name, fsynced, renamed, then the
    directory is fsynced: a crash leaves the old file or the new one.

Threads
    :meth:`EpisodeStore.put` runs on the monitor thread and only updates
    a dict under a lock; a writer thread of its own writes the file
    (coalescing every change made meanwhile), so the monitor never waits
    for a disk.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import threading
import time
import typing
import uuid as uuidlib

from nova_vm_heartbeat.monitor.episodes import EpisodeRecord
from nova_vm_heartbeat.monitor import verdicts as vd

LOG = logging.getLogger(__name__)

FORMAT = 1
#: The namespace of the verdict ids (uuid5).
NAMESPACE = uuidlib.UUID("0f4bd3a4-5f0e-4c38-9d55-7c2f1c5e8a11")


def _to_json(record: EpisodeRecord) -> typing.Dict[str, typing.Any]:
    data = dataclasses.asdict(record)
    data["open_kind"] = record.open_kind.value if record.open_kind else None
    data["open_fault"] = (record.open_fault.value if record.open_fault
                          else None)
    return data


def _from_json(data: typing.Mapping[str, typing.Any]) -> EpisodeRecord:
    kind, fault = data.get("open_kind"), data.get("open_fault")
    return EpisodeRecord(
        number=int(data.get("number", 0)),
        open_kind=vd.VerdictKind(kind) if kind else None,
        open_fault=vd.FaultClass(fault) if fault else None,
        open_episode=int(data.get("open_episode", 0)),
        same_boot=bool(data.get("same_boot", True)),
        heard=bool(data.get("heard", False)))


class EpisodeStore:
    """Episode records by instance uuid, kept in ``path`` (None: memory).

    :param wallclock: seconds since the epoch (to tell a boot that
        happened while the monitor was down).
    """

    def __init__(self, path: typing.Optional[str],
                 wallclock: typing.Callable[[], float] = time.time):
        self.path = path
        self.wallclock = wallclock
        self.epoch = uuidlib.uuid4().hex
        #: When the file found at start was written (None: none found).
        self.written_at: typing.Optional[float] = None
        self._loaded: typing.Dict[str, EpisodeRecord] = {}
        self._records: typing.Dict[str, EpisodeRecord] = {}
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._dirty = self._closing = False
        self._thread: typing.Optional[threading.Thread] = None
        #: Files written, and failed writes in a row (for tests, operators).
        self.writes = self.failures = 0
        if path:
            self._load(path)

    # -- start and stop ---------------------------------------------------

    def start(self) -> None:
        if self.path and self._thread is None:
            self._thread = threading.Thread(
                target=self._run, daemon=True, name="heartbeat-episodes")
            self._thread.start()

    def close(self, timeout: float = 5.0) -> None:
        """Write what changed, then stop the writer."""
        with self._lock:
            self._closing = True
            self._changed.notify()
        if self._thread is not None:
            self._thread.join(timeout)

    # -- the monitor thread -----------------------------------------------

    def restore(self, uuid: str,
                uptime: typing.Optional[float]) -> typing.Optional[
                    EpisodeRecord]:
        """What a previous run kept of ``uuid``, taken as found now.

        A domain that started after the file was written has booted
        since: its open episode no longer belongs to the running boot.
        """
        record = self._loaded.pop(uuid, None)
        if record is None or self.written_at is None or uptime is None:
            return record
        if self.wallclock() - uptime > self.written_at:
            return dataclasses.replace(record, same_boot=False, heard=False)
        return record

    def put(self, uuid: str, record: EpisodeRecord) -> None:
        """Keep ``record`` for ``uuid``; written soon, off this thread."""
        with self._lock:
            if self._records.get(uuid) == record:
                return
            self._records[uuid] = record
            self._dirty = True
            self._changed.notify()

    def forget(self, uuid: str) -> None:
        """``uuid`` is no longer monitored here (deleted, migrated)."""
        with self._lock:
            if self._records.pop(uuid, None) is not None:
                self._dirty = True
                self._changed.notify()

    def verdict_id(self, uuid: str, verdict: vd.Verdict) -> str:
        """The id of ``verdict``.

        The same for the same instance, episode, kind and fault class
        (an episode that turns worse is reported again), across
        redelivery and restarts; never reused across epochs.
        """
        name = "%s/%s/%d/%s/%s" % (self.epoch, uuid, verdict.episode,
                                   verdict.kind.value,
                                   verdict.fault_class.value)
        return str(uuidlib.uuid5(NAMESPACE, name))

    # -- loading and writing ----------------------------------------------

    def _load(self, path: str) -> None:
        try:
            with open(path, encoding="utf-8") as stream:
                data = json.load(stream)
            epoch = str(data["epoch"])
            written_at = float(data["written_at"])
            records = {str(uuid): _from_json(record)
                       for uuid, record in data["instances"].items()}
        except FileNotFoundError:
            return
        except (OSError, ValueError, TypeError, KeyError,
                AttributeError) as err:
            LOG.error("Cannot read the episode state %(path)s (%(err)s): "
                      "open episodes are forgotten; verdict ids start a "
                      "new epoch", {"path": path, "err": err})
            return
        self.epoch, self.written_at = epoch, written_at
        self._loaded = records
        self._records = dict(records)

    def _run(self) -> None:
        while True:
            with self._lock:
                while not (self._dirty or self._closing):
                    self._changed.wait()
                closing, self._dirty = self._closing, False
                snapshot = {u: _to_json(r) for u, r in self._records.items()}
            self._write(snapshot)
            if closing:
                return

    def _write(self, records: typing.Dict[str, typing.Any]) -> None:
        assert self.path is not None
        directory = os.path.dirname(os.path.abspath(self.path))
        temporary = "%s.tmp" % self.path
        data = {"format": FORMAT, "epoch": self.epoch,
                "written_at": self.wallclock(), "instances": records}
        try:
            os.makedirs(directory, exist_ok=True)
            with open(temporary, "w", encoding="utf-8") as stream:
                json.dump(data, stream, sort_keys=True)
                stream.flush()
                os.fsync(stream.fileno())
            os.replace(temporary, self.path)
            fd = os.open(directory, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        except OSError as err:
            self.failures += 1
            # Once per run of failures: the next change tries again.
            level = logging.ERROR if self.failures == 1 else logging.DEBUG
            LOG.log(level, "Cannot write the episode state %(path)s: "
                    "%(err)s (a restart would forget open episodes)",
                    {"path": self.path, "err": err})
            return
        if self.failures:
            LOG.info("The episode state %(path)s is written again",
                     {"path": self.path})
        self.failures = 0
        self.writes += 1
