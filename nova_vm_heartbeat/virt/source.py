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

"""The instance source inside nova-compute: Nova's view, libvirt's facts.

:class:`NovaInstanceSource` answers the runtime's "which instances, with
which settings" from the instances Nova assigns to this host
(``InstanceList.get_by_host`` through the conductor), keeping those whose
flavor sets ``hw:heartbeat=true``. The conductor is asked at a modest rate
(:data:`CONDUCTOR_INTERVAL`); in between, the driver keeps the answer
current with what it sees first hand: instances it spawned or received,
lifecycle events, operations it carried out. What the driver saw after a
conductor question was asked wins over that question's answer, so a slow
answer never undoes a newer observation.

An instance is judged (``running``) only when Nova means it to run (it is
active, with no task under way) **and the hypervisor says its domain
runs**. The database's ``power_state`` is only a hint, used when libvirt
cannot be asked: after a host reboot or a nova-compute restart it still
says "running" for domains that are shut off, until Nova's power-state
sync (every 10 minutes) corrects it. Libvirt is asked on every look
(a local call); the conductor only every :data:`CONDUCTOR_INTERVAL`.

How long a domain has run (the boot grace) counts from the driver's last
spawn of it when the driver saw one (create, rebuild, unshelve, evacuate,
resize, revert), else from Nova's ``launched_at``, which Nova updates only
after a spawn returns.
"""

from __future__ import annotations

import dataclasses
import datetime
import logging
import threading
import time
import typing

from nova.compute import power_state
from nova.compute import vm_states
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

#: Seconds between two questions to the conductor. The driver tells the
#: source first hand of everything it does, and libvirt is asked on every
#: look, so the conductor is only needed for what happens elsewhere
#: (flavor changes, an instance deleted while nova-compute was down).
CONDUCTOR_INTERVAL = 60.0

#: Seconds the driver's word that an instance arrived (or left) wins over
#: the conductor's answers, even answers asked after it: Nova saves the
#: instance's new host only after the driver's call returns.
ARRIVAL_HOLD = 30.0

Fetch = typing.Callable[[], typing.Iterable[typing.Any]]
#: Returns the uuids of the domains that run now (libvirt's word).
RunningDomains = typing.Callable[[], typing.AbstractSet[str]]


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


#: The vm_states in which Nova means an instance to run. ``resized`` is a
#: resize waiting to be confirmed (VERIFY_RESIZE): the guest runs the
#: tenant's workload on the new flavor, for as long as nobody confirms
#: (``resize_confirm_window`` is off by default), and Masakari recovers
#: an instance in that state.
RUNNING_VM_STATES = frozenset((vm_states.ACTIVE, vm_states.RESIZED))


def intended(instance: typing.Any) -> bool:
    """Whether Nova means ``instance`` to run, with nothing under way."""
    return bool(instance.vm_state in RUNNING_VM_STATES
                and instance.task_state is None)


def powered_hint(instance: typing.Any) -> bool:
    """Whether the database says the domain runs (possibly stale)."""
    return bool(instance.power_state == power_state.RUNNING)


@dataclasses.dataclass(frozen=True)
class _Word:
    """What the driver saw of one instance, and when (None: it left)."""

    at: float
    info: typing.Optional[InstanceInfo]
    #: The driver placed it here or saw it leave (not a start or stop).
    placed: bool = False


class NovaInstanceSource(InstanceSource):
    """This host's instances with ``hw:heartbeat=true``.

    :param fetch: returns Nova's instances of this host (with their flavor
        and system metadata); it may block on the conductor.
    :param running_domains: returns the uuids of the domains libvirt runs
        now; it raises when libvirt cannot tell. None: use the database's
        power state (tests of the source alone).
    """

    def __init__(self, fetch: Fetch, socket_dir: str, defaults: Settings,
                 clock: typing.Callable[[], float] = time.monotonic,
                 wallclock: typing.Callable[[], datetime.datetime] = utcnow,
                 interval: float = CONDUCTOR_INTERVAL,
                 running_domains: typing.Optional[RunningDomains] = None):
        self.socket_dir = socket_dir
        self.defaults = defaults
        self.clock = clock
        self.wallclock = wallclock
        self.interval = interval
        self._fetch = fetch
        self._running_domains = running_domains
        self._lock = threading.Lock()
        #: uuid -> the instance; ``running`` is Nova's intent.
        self._known: typing.Dict[str, InstanceInfo] = {}
        #: uuid -> whether the database (or the driver) says it runs.
        self._hints: typing.Dict[str, bool] = {}
        #: uuid -> when it booted, on self.clock (launched_at or a spawn).
        self._booted: typing.Dict[str, float] = {}
        #: uuid -> when the driver spawned it, on self.clock.
        self._spawned: typing.Dict[str, float] = {}
        self._words: typing.Dict[str, _Word] = {}
        self._fetched_at: typing.Optional[float] = None
        self._bad_path = Once()
        self._libvirt_down = Once()
        self._broken: typing.Set[str] = set()
        self._refused: typing.Set[str] = set()
        #: Questions asked to the conductor (for benchmarks and tests).
        self.fetches = 0

    # -- the runtime asks ---------------------------------------------------

    def instances(self) -> typing.List[InstanceInfo]:
        now = self.clock()
        if self._fetched_at is None or now - self._fetched_at >= self.interval:
            self._refresh(now)
        runs = self._ask_libvirt()
        with self._lock:
            return [self._as_seen(info, runs, now)
                    for info in self._known.values()]

    def _as_seen(self, info: InstanceInfo,
                 runs: typing.Optional[typing.AbstractSet[str]],
                 now: float) -> InstanceInfo:
        """``info`` as judged now: Nova's intent, libvirt's facts."""
        powered = (info.uuid in runs if runs is not None
                   else self._hints.get(info.uuid, info.running))
        booted = self._spawned.get(info.uuid, self._booted.get(info.uuid))
        return dataclasses.replace(
            info, running=info.running and powered,
            uptime=None if booted is None else max(0.0, now - booted))

    def _ask_libvirt(self) -> typing.Optional[typing.AbstractSet[str]]:
        """The domains that run; None (logged once) if libvirt can't say."""
        if self._running_domains is None:
            return None
        try:
            runs = self._running_domains()
        except Exception as err:
            if self._libvirt_down.first():
                LOG.warning("libvirt did not list the running domains (%(err)s"
                            "); the database's power state decides which "
                            "instances are judged until it does",
                            {"err": err})
            return None
        if self._libvirt_down.clear():
            LOG.info("libvirt lists the running domains again")
        return runs

    def _refresh(self, asked_at: float) -> None:
        answer = list(self._fetch())
        self.fetches += 1
        found = [(i, self._described(i)) for i in answer]
        fetched = {info.uuid: info for _, info in found if info is not None}
        hints = {info.uuid: powered_hint(i) for i, info in found
                 if info is not None}
        booted = {info.uuid: self._boot_time(i.launched_at, asked_at)
                  for i, info in found if info is not None}
        with self._lock:
            self._fetched_at = asked_at
            # A placement the answer has not caught up with yet holds; one
            # it agrees with is consumed.
            held = {u for u, w in self._words.items()
                    if w.at < asked_at and _held(w, fetched, u, asked_at)}
            for uuid, word in self._words.items():
                if word.at >= asked_at or uuid in held:
                    _apply(fetched, uuid, word.info)
                    if word.info is not None:
                        hints[uuid] = hints.get(uuid, False) or \
                            word.info.running
            self._known, self._hints = fetched, hints
            self._booted = {u: b for u, b in booted.items() if b is not None}
            self._spawned = {u: t for u, t in self._spawned.items()
                             if u in fetched}
            self._words = {u: w for u, w in self._words.items()
                           if w.at >= asked_at or u in held}

    def _described(self, instance: typing.Any
                   ) -> typing.Optional[InstanceInfo]:
        """describe(), or None (logged once) for an instance it fails on."""
        try:
            return self.describe(instance, intended(instance))
        except Exception:
            uuid = str(getattr(instance, "uuid", "?"))
            if uuid not in self._broken:
                self._broken.add(uuid)
                LOG.exception("Instance %(uuid)s: cannot read its flavor or "
                              "state; it is not monitored", {"uuid": uuid})
            return None

    # -- the driver tells ---------------------------------------------------

    def add(self, instance: typing.Any, running: bool,
            spawned: bool = False) -> typing.Optional[InstanceInfo]:
        """The driver started or received ``instance`` on this host.

        :param running: whether it runs, to be judged, now.
        :param spawned: the driver just booted its domain (the boot grace
            starts now).
        :returns: what the instance is monitored as (None: it is not).
        """
        uuid = str(instance.uuid)
        info = self.describe(instance, running)
        if spawned:
            with self._lock:
                self._spawned[uuid] = self.clock()
        self._tell(uuid, info, placed=True)
        if info is None:
            return None
        with self._lock:
            return self._as_seen(info, None, self.clock())

    def observed(self, uuid: str, running: bool) -> None:
        """The driver saw the domain of ``uuid`` start or stop."""
        with self._lock:
            info = self._known.get(uuid)
        if info is not None and info.running != running:
            self._tell(uuid, dataclasses.replace(info, running=running))

    def remove(self, uuid: str) -> None:
        """``uuid`` left this host (migrated away)."""
        self._tell(uuid, None, placed=True)

    def _tell(self, uuid: str, info: typing.Optional[InstanceInfo],
              placed: bool = False) -> None:
        with self._lock:
            self._words[uuid] = _Word(self.clock(), info, placed)
            if info is None:
                self._known.pop(uuid, None)
                self._spawned.pop(uuid, None)
                return
            self._known[uuid] = info
            if info.running:
                self._hints[uuid] = True

    # -- one instance ---------------------------------------------------------

    def describe(self, instance: typing.Any,
                 running: bool) -> typing.Optional[InstanceInfo]:
        """The InstanceInfo of a Nova instance; None if not monitored.

        ``running`` is whether Nova means it to run; the uptime is filled
        in when the runtime asks.
        """
        extra_specs = instance.flavor.extra_specs or {}
        self._check(str(instance.uuid), extra_specs)
        if not specs.enabled(extra_specs):
            return None
        qga = specs.qga_enabled(instance.system_metadata or {})
        return InstanceInfo(
            uuid=str(instance.uuid), domain_name=str(instance.name),
            settings=specs.settings(extra_specs, self.defaults, qga),
            heartbeat_socket=self._socket(str(instance.name)),
            display_name=str(instance.display_name or ""),
            running=running, uptime=None)

    def _check(self, uuid: str, extra_specs: typing.Mapping[str, str]
               ) -> None:
        """Warn, once per instance, of flavor values the API refuses."""
        refused = specs.refused(extra_specs)
        if not refused or uuid in self._refused:
            return
        self._refused.add(uuid)
        LOG.warning("Instance %(uuid)s: its flavor has %(values)s, which the"
                    " API refuses (set below microversion 2.86?); ignored, "
                    "the operator's defaults apply. Fix the flavor's extra "
                    "specs.", {"uuid": uuid, "values": ", ".join(refused)})

    def _socket(self, name: str) -> typing.Optional[str]:
        try:
            return guest_config.socket_path(self.socket_dir, name)
        except guest_config.SocketPathTooLong as err:
            if self._bad_path.first():
                LOG.error("%(err)s; instances are monitored over QGA only",
                          {"err": err})
            return None

    def _boot_time(self, launched_at: typing.Optional[datetime.datetime],
                   now: float) -> typing.Optional[float]:
        """When ``launched_at`` was, on self.clock (None: unknown)."""
        if launched_at is None:
            return None
        if launched_at.tzinfo is None:
            launched_at = launched_at.replace(tzinfo=datetime.timezone.utc)
        return now - max(0.0, (self.wallclock() - launched_at)
                         .total_seconds())


def _held(word: _Word, fetched: typing.Mapping[str, InstanceInfo],
          uuid: str, asked_at: float) -> bool:
    """Whether an older word on where ``uuid`` is still beats the answer.

    Only on whether it is here, within :data:`ARRIVAL_HOLD`.
    """
    here = word.info is not None
    return word.placed and asked_at - word.at < ARRIVAL_HOLD \
        and (uuid in fetched) != here


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
