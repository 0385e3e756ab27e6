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

"""The components whose health the agent reports, with their deadlines.

An application (or a ``checks.d`` script) registers a component with a
time to live, then reports ``ok`` or ``failed`` at least once per TTL. A
component that stays silent for longer than its TTL is reported as failed,
with a reason that says so. The overall health of the guest is ``failed``
when any component is.

:class:`Registry` is a pure class: the clock is injected and nothing here
does I/O, so the rules are unit-tested with a fake clock.
"""

from __future__ import annotations

import dataclasses
import typing

from nova_vm_heartbeat import protocol
from nova_vm_heartbeat.protocol import fields

Health = protocol.Health

#: Shortest and longest accepted time to live, in seconds.
MIN_TTL = 0.1
MAX_TTL = 86400.0


class ComponentError(ValueError):
    """A registry operation was refused; the message says why."""


def check_name(name: str) -> str:
    """Return ``name`` if it is a valid component name.

    :raises ComponentError: it is not.
    """
    if not fields.NAME_RE.match(name):
        raise ComponentError(
            "invalid component name %s: use 1 to 64 letters, digits or "
            "_.:+~- starting with a letter or digit"
            % protocol.errors.excerpt(name))
    return name


def check_ttl(ttl: float) -> float:
    """Return ``ttl`` if it is an acceptable time to live.

    :raises ComponentError: it is not.
    """
    if not MIN_TTL <= ttl <= MAX_TTL:
        raise ComponentError("ttl must be between %g and %g seconds"
                             % (MIN_TTL, MAX_TTL))
    return float(ttl)


@dataclasses.dataclass
class _Entry:
    """What the registry knows about one component."""

    ttl: float
    last_report: float
    status: Health = Health.OK
    reason: str = ""
    progress: typing.Optional[int] = None


@dataclasses.dataclass(frozen=True)
class Snapshot:
    """The health of the guest at one instant."""

    health: Health
    components: typing.Tuple[protocol.Component, ...] = ()

    def signature(self) -> typing.Tuple[typing.Tuple[str, str], ...]:
        """What a ``report`` is sent for: overall and component status."""
        return (("", self.health.value),) + tuple(
            (c.name, c.status.value) for c in self.components)


class Registry:
    """Registered components and their last reports.

    :param clock: returns the current time in seconds (monotonic).
    :param max_components: most components registered at once.
    :param max_reason_chars: reasons are cut to this many characters.
    """

    def __init__(self, clock: typing.Callable[[], float],
                 max_components: int = protocol.DEFAULT_LIMITS.max_components,
                 max_reason_chars: int = (
                     protocol.DEFAULT_LIMITS.max_string_chars)):
        self._clock = clock
        self.max_components = max_components
        self.max_reason_chars = max_reason_chars
        self._entries: typing.Dict[str, _Entry] = {}

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __len__(self) -> int:
        return len(self._entries)

    def register(self, name: str, ttl: float) -> None:
        """Add ``name``, or renew it with a new TTL; it counts as a report.

        :raises ComponentError: invalid name or TTL, or too many components.
        """
        check_name(name)
        ttl = check_ttl(ttl)
        entry = self._entries.get(name)
        if entry is None:
            self._check_room(name)
            self._entries[name] = _Entry(ttl=ttl, last_report=self._clock())
            return
        entry.ttl = ttl
        entry.last_report = self._clock()

    def _check_room(self, name: str) -> None:
        if len(self._entries) >= self.max_components:
            raise ComponentError(
                "cannot register %s: already %d components, the most the "
                "protocol carries; unregister one first"
                % (name, self.max_components))

    def notify(self, name: str, status: Health, reason: str = "",
               progress: typing.Optional[int] = None,
               ttl: typing.Optional[float] = None) -> None:
        """Record a report; with ``ttl``, register ``name`` if needed.

        :raises ComponentError: ``name`` is not registered and no ``ttl``
            was given, or the name, TTL or progress is invalid.
        """
        if ttl is not None:
            self.register(name, ttl)
        entry = self._entries.get(name)
        if entry is None:
            raise ComponentError(
                "component %s is not registered: register it first, or give "
                "a ttl to register it now" % protocol.errors.excerpt(name))
        if progress is not None and not 0 <= progress <= fields.MAX_SAFE_INT:
            raise ComponentError("progress must be between 0 and %d"
                                 % fields.MAX_SAFE_INT)
        entry.status = Health(status)
        entry.reason = fields.clean_text(reason, self.max_reason_chars)
        if progress is not None:
            entry.progress = progress
        entry.last_report = self._clock()

    def unregister(self, name: str) -> None:
        """Forget ``name``.

        :raises ComponentError: it is not registered.
        """
        if self._entries.pop(name, None) is None:
            raise ComponentError("component %s is not registered"
                                 % protocol.errors.excerpt(name))

    def discard(self, name: str) -> None:
        """Forget ``name`` if it is registered."""
        self._entries.pop(name, None)

    def names(self) -> typing.List[str]:
        """Registered names, sorted."""
        return sorted(self._entries)

    def snapshot(self) -> Snapshot:
        """The health of every component now, sorted by name."""
        now = self._clock()
        components = tuple(self._component(name, self._entries[name], now)
                           for name in sorted(self._entries))
        failed = any(c.status is Health.FAILED for c in components)
        return Snapshot(Health.FAILED if failed else Health.OK, components)

    def _component(self, name: str, entry: _Entry,
                   now: float) -> protocol.Component:
        if now - entry.last_report >= entry.ttl:
            return protocol.Component(
                name, Health.FAILED, "no report for %g s" % entry.ttl,
                entry.progress)
        return protocol.Component(name, entry.status, entry.reason,
                                  entry.progress)

    def next_expiry(self) -> typing.Optional[float]:
        """When the next component that is not yet silent becomes so."""
        now = self._clock()
        deadlines = [entry.last_report + entry.ttl
                     for entry in self._entries.values()
                     if now - entry.last_report < entry.ttl]
        return min(deadlines) if deadlines else None
