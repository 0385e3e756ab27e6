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

"""The admin protocol: one JSON line in, one JSON line out.

Request (``op`` is ``ping``, ``status`` or ``telemetry``)::

    {"v": 1, "op": "status"}

Answer, on success and on failure::

    {"v": 1, "ok": true, "host": "compute-1", "instances": [...]}
    {"v": 1, "ok": false, "error": "unknown op 'x'"}

``status`` lists every instance as the plain dictionary :func:`instance`
makes from a :class:`~nova_vm_heartbeat.runtime.fleet.InstanceStatus`;
``telemetry`` gives the loop's counters (:func:`telemetry`). Times are
seconds, ``null`` where unknown.
"""

from __future__ import annotations

import json
import typing

from nova_vm_heartbeat.monitor.status import ChannelStatus
from nova_vm_heartbeat.runtime.fleet import InstanceStatus
from nova_vm_heartbeat.runtime.telemetry import Histogram
from nova_vm_heartbeat.runtime.telemetry import Snapshot

VERSION = 1
#: Longest request line the server reads.
MAX_REQUEST = 4096
#: Operations the server knows.
OPS = ("ping", "status", "telemetry")

Json = typing.Dict[str, typing.Any]


class BadRequest(ValueError):
    """The request could not be understood."""


def encode(message: Json) -> bytes:
    return json.dumps(message, separators=(",", ":")).encode() + b"\n"


def request(op: str) -> bytes:
    return encode({"v": VERSION, "op": op})


def parse_request(line: bytes) -> str:
    """The operation a request line asks for.

    :raises BadRequest: not a JSON object with a known ``op``.
    """
    try:
        message = json.loads(line)
    except ValueError as err:
        raise BadRequest("the request is not JSON") from err
    if not isinstance(message, dict):
        raise BadRequest("the request is not a JSON object")
    op = message.get("op")
    if op not in OPS:
        raise BadRequest("unknown op %r (known: %s)"
                         % (str(op)[:40], ", ".join(OPS)))
    return typing.cast(str, op)


def success(**fields: typing.Any) -> bytes:
    return encode(dict({"v": VERSION, "ok": True}, **fields))


def failure(error: str) -> bytes:
    return encode({"v": VERSION, "ok": False, "error": error})


def instance(status: InstanceStatus) -> Json:
    """One instance, as the ``status`` answer lists it."""
    judged = status.status
    channels = [_channel(c) for c in judged.channels]
    freshest = min((c for c in judged.channels
                    if c.last_good_age is not None),
                   key=lambda c: typing.cast(float, c.last_good_age),
                   default=None)
    connection = status.channel
    return {
        "uuid": status.uuid,
        "name": status.display_name,
        "domain": status.domain_name,
        "state": judged.state.value,
        "fault_class": (judged.fault_class.value
                        if judged.fault_class is not None else None),
        "episode": judged.episode,
        "last_good_age": freshest.last_good_age if freshest else None,
        "rtt": freshest.rtt if freshest else None,
        "channels": channels,
        "suspended": dict(judged.suspended),
        "violations": judged.violations,
        "refused": judged.refused,
        "socket": None if connection is None else {
            "state": connection.state.value,
            "established": connection.established,
            "connects": connection.counters.connects,
            "abuse": connection.abuse(),
        },
    }


def _channel(channel: ChannelStatus) -> Json:
    return {"channel": channel.channel.value, "usable": channel.usable,
            "misses": channel.misses,
            "last_good_age": channel.last_good_age, "rtt": channel.rtt}


def telemetry(snapshot: Snapshot) -> Json:
    """The loop's counters (no per-instance series), as plain JSON."""
    return {
        "states": snapshot.states, "missed": snapshot.missed,
        "verdicts": {"%s/%s" % key: n
                     for key, n in snapshot.verdicts.items()},
        "protocol_errors": snapshot.protocol_errors,
        "loop_lag": _histogram(snapshot.loop_lag),
        "loop_lag_max": snapshot.loop_lag_max, "stalls": snapshot.stalls,
        "dropped": snapshot.dropped, "cpu_seconds": snapshot.cpu_seconds,
        "outbox_depth": snapshot.outbox_depth,
    }


def _histogram(histogram: Histogram) -> Json:
    return {"bounds": list(histogram.bounds), "counts": histogram.counts,
            "sum": histogram.total, "count": histogram.count}
