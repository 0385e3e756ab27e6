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

"""The instance source inside nova-compute: Nova's own view of the host.

:class:`NovaInstanceSource` answers the runtime's "which instances, with
which settings" from the instances Nova assigns to this host
(``InstanceList.get_by_host`` through the conductor), keeping those whose
flavor sets ``hw:heartbeat=true``. The conductor is asked at a modest rate
(:data:`CONDUCTOR_INTERVAL`); in between, the driver keeps the answer
current with what it sees first hand: instances it spawned or received,
lifecycle events, operations it carried out. What the driver saw after a
conductor question was asked wins over that question's answer, so a slow
answer never undoes a newer observation.

An instance is judged (``running``) only when Nova says it is active,
with no task under way, and powered on; everything else is listed as not
running, which keeps its monitor (and its episode) without judging it.
"""

from __future__ import annotations

import dataclasses
import datetime
import logging
import threading
import time
import typing

from nova import context as nova_context
from nova import exception as nova_exception
from nova import objects
import oslo_messaging

from nova_vm_heartbeat import exception
from nova_vm_heartbeat.monitor.policy import Settings
from nova_vm_heartbeat.runtime.throttle import Once
from nova_vm_heartbeat.sources.base import InstanceInfo
from nova_vm_heartbeat.sources.base import InstanceSource
from nova_vm_heartbeat.virt import guest_config
from nova_vm_heartbeat.virt import specs

LOG = logging.getLogger(__name__)

#: Seconds between two questions to the conductor.
CONDUCTOR_INTERVAL = 60.0
#: Nova's values for an instance that may be judged.
ACTIVE = "active"
POWER_RUNNING = 1

Fetch = typing.Callable[[], typing.Iterable[typing.Any]]


def utcnow() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc)


def conductor_fetch(host: str) -> Fetch:
    """Ask the conductor for the instances of ``host``.

    :raises SourceUnavailable: the conductor did not answer.
    """
    def fetch() -> typing.List[typing.Any]:
        try:
            return list(objects.InstanceList.get_by_host(
                nova_context.get_admin_context(), host,
                expected_attrs=["flavor", "system_metadata"]))
        except (nova_exception.NovaException,
                oslo_messaging.MessagingException) as err:
            raise exception.SourceUnavailable(
                reason="the conductor did not list the instances of %s: %s"
                % (host, err)) from err
    return fetch


def judged(instance: typing.Any) -> bool:
    """Whether Nova's state of ``instance`` allows judging it."""
    return bool(instance.vm_state == ACTIVE and instance.task_state is None
                and instance.power_state == POWER_RUNNING)


@dataclasses.dataclass(frozen=True)
class _Word:
    """What the driver saw of one instance, and when (None: it left)."""

    at: float
    info: typing.Optional[InstanceInfo]


class NovaInstanceSource(InstanceSource):
    """This host's instances with ``hw:heartbeat=true``.

    :param fetch: returns Nova's instances of this host (with their flavor
        and system metadata); it may block on the conductor.
    """

    def __init__(self, fetch: Fetch, socket_dir: str, defaults: Settings,
                 clock: typing.Callable[[], float] = time.monotonic,
                 wallclock: typing.Callable[[], datetime.datetime] = utcnow,
                 interval: float = CONDUCTOR_INTERVAL):
        self.socket_dir = socket_dir
        self.defaults = defaults
        self.clock = clock
        self.wallclock = wallclock
        self.interval = interval
        self._fetch = fetch
        self._lock = threading.Lock()
        self._known: typing.Dict[str, InstanceInfo] = {}
        self._words: typing.Dict[str, _Word] = {}
        self._fetched_at: typing.Optional[float] = None
        self._bad_path = Once()
        self._broken: typing.Set[str] = set()

    # -- the runtime asks ---------------------------------------------------

    def instances(self) -> typing.List[InstanceInfo]:
        now = self.clock()
        if self._fetched_at is None or now - self._fetched_at >= self.interval:
            self._refresh(now)
        with self._lock:
            return list(self._known.values())

    def _refresh(self, asked_at: float) -> None:
        found = [self._described(i) for i in self._fetch()]
        fetched = {i.uuid: i for i in found if i is not None}
        with self._lock:
            self._fetched_at = asked_at
            for uuid, word in self._words.items():
                if word.at >= asked_at:
                    _apply(fetched, uuid, word.info)
            self._known = fetched
            self._words = {u: w for u, w in self._words.items()
                           if w.at >= asked_at}

    def _described(self, instance: typing.Any
                   ) -> typing.Optional[InstanceInfo]:
        """describe(), or None (logged once) for an instance it fails on."""
        try:
            return self.describe(instance, judged(instance))
        except Exception:
            uuid = str(getattr(instance, "uuid", "?"))
            if uuid not in self._broken:
                self._broken.add(uuid)
                LOG.exception("Instance %(uuid)s: cannot read its flavor or "
                              "state; it is not monitored", {"uuid": uuid})
            return None

    # -- the driver tells ---------------------------------------------------

    def add(self, instance: typing.Any, running: bool) -> None:
        """The driver started or received ``instance`` on this host."""
        info = self.describe(instance, running)
        self._tell(str(instance.uuid), info)

    def observed(self, uuid: str, running: bool) -> None:
        """The driver saw the domain of ``uuid`` start or stop."""
        with self._lock:
            info = self._known.get(uuid)
        if info is not None and info.running != running:
            self._tell(uuid, dataclasses.replace(info, running=running))

    def remove(self, uuid: str) -> None:
        """``uuid`` left this host (migrated away)."""
        self._tell(uuid, None)

    def _tell(self, uuid: str, info: typing.Optional[InstanceInfo]) -> None:
        with self._lock:
            self._words[uuid] = _Word(self.clock(), info)
            if info is None:
                self._known.pop(uuid, None)
            else:
                self._known[uuid] = info

    # -- one instance ---------------------------------------------------------

    def describe(self, instance: typing.Any,
                 running: bool) -> typing.Optional[InstanceInfo]:
        """The InstanceInfo of a Nova instance; None if not monitored."""
        extra_specs = instance.flavor.extra_specs or {}
        if not specs.enabled(extra_specs):
            return None
        qga = specs.qga_enabled(instance.system_metadata or {})
        return InstanceInfo(
            uuid=str(instance.uuid), domain_name=str(instance.name),
            settings=specs.settings(extra_specs, self.defaults, qga),
            heartbeat_socket=self._socket(str(instance.name)),
            display_name=str(instance.display_name or ""),
            running=running, uptime=self._uptime(instance.launched_at))

    def _socket(self, name: str) -> typing.Optional[str]:
        try:
            return guest_config.socket_path(self.socket_dir, name)
        except guest_config.SocketPathTooLong as err:
            if self._bad_path.first():
                LOG.error("%(err)s; instances are monitored over QGA only",
                          {"err": err})
            return None

    def _uptime(self, launched_at: typing.Optional[datetime.datetime]
                ) -> typing.Optional[float]:
        if launched_at is None:
            return None
        if launched_at.tzinfo is None:
            launched_at = launched_at.replace(tzinfo=datetime.timezone.utc)
        return max(0.0, (self.wallclock() - launched_at).total_seconds())


def _apply(known: typing.Dict[str, InstanceInfo], uuid: str,
           info: typing.Optional[InstanceInfo]) -> None:
    """Apply the driver's newer word on ``uuid`` to a conductor answer.

    The answer keeps its settings (the flavor may have changed); the
    driver's word decides whether the instance is here and runs.
    """
    if info is None:
        known.pop(uuid, None)
        return
    current = known.get(uuid)
    known[uuid] = info if current is None else dataclasses.replace(
        current, running=info.running)
