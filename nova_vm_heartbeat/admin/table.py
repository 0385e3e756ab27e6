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

"""The ``status`` answer as a table for people.

One row per instance; times in the unit that reads best; ``-`` where a
value does not apply. The columns are explained in the operator guide
(``doc/source/admin/operations.rst``).
"""

from __future__ import annotations

import collections
import typing

from nova_vm_heartbeat.admin.wire import Json

HEADERS = ("UUID", "NAME", "STATE", "FAULT", "LAST GOOD", "RTT",
           "CHANNELS", "SUSPENDED", "ABUSE")
NONE = "-"


def age(seconds: typing.Optional[float]) -> str:
    """``0.4 s``, ``12 min``, ``3.2 h``."""
    if seconds is None:
        return NONE
    if seconds < 60:
        return "%.1f s" % seconds
    if seconds < 3600:
        return "%d min" % (seconds // 60)
    return "%.1f h" % (seconds / 3600)


def round_trip(seconds: typing.Optional[float]) -> str:
    return NONE if seconds is None else "%.1f ms" % (seconds * 1000)


def channels(instance: Json) -> str:
    """The channels judged; ``(down)`` on one that cannot be used now."""
    names = [c["channel"] + ("" if c["usable"] else "(down)")
             for c in instance.get("channels", ())]
    return " ".join(names) or NONE


def suspended(instance: Json) -> str:
    reasons = instance.get("suspended") or {}
    return ", ".join("%s (%s left)" % (reason, age(left))
                     for reason, left in sorted(reasons.items())) or NONE


def abuse(instance: Json) -> str:
    """``rejected 5012, cpu_budget 3``: what the guest did to the host."""
    counts = (instance.get("socket") or {}).get("abuse") or {}
    return ", ".join("%s %d" % (kind, counts[kind])
                     for kind in sorted(counts)) or NONE


def row(instance: Json) -> typing.Tuple[str, ...]:
    return (instance["uuid"], instance.get("name") or instance["domain"],
            instance["state"], instance.get("fault_class") or NONE,
            age(instance.get("last_good_age")),
            round_trip(instance.get("rtt")), channels(instance),
            suspended(instance), abuse(instance))


def render(instances: typing.Sequence[Json]) -> str:
    """The table, and a summary line of the states."""
    rows = [HEADERS] + [row(i) for i in instances]
    widths = [max(len(r[c]) for r in rows) for c in range(len(HEADERS))]
    lines = ["  ".join(cell.ljust(width) for cell, width
                       in zip(r, widths)).rstrip() for r in rows]
    return "\n".join(lines + [summary(instances)])


def summary(instances: typing.Sequence[Json]) -> str:
    counts = collections.Counter(i["state"] for i in instances)
    parts = ", ".join("%d %s" % (n, state)
                      for state, n in sorted(counts.items()))
    noun = "instance" if len(instances) == 1 else "instances"
    return "%d %s%s" % (len(instances), noun, ": " + parts if parts else "")
