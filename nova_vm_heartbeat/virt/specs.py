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

"""The flavor extra specs and image properties that ask for monitoring.

One place for the names and their hard limits: the API validators
(:mod:`.validators`) reject what is outside the limits, and the compute
host reads the values into :class:`~nova_vm_heartbeat.monitor.Settings`
(then clamped by the operator's ``[heartbeat]`` bounds). Nothing here
imports nova.
"""

from __future__ import annotations

import dataclasses
import typing

from oslo_utils import strutils

from nova_vm_heartbeat.monitor.policy import Settings

ENABLED = "hw:heartbeat"
#: The image property that adds the QEMU guest agent channel, as Nova keeps
#: it in the instance's system metadata.
IMAGE_QGA = "image_hw_qemu_guest_agent"
#: Whether the guest gets a pvpanic device (the operator's default, else).
PANIC = "hw:heartbeat_panic"
#: The same, as an image property kept in the system metadata (Nova's
#: ``ImageMetaProps`` has no field for it).
IMAGE_PANIC = "image_hw_heartbeat_panic"


@dataclasses.dataclass(frozen=True)
class IntegerSpec:
    """One integer extra spec: its key, the Settings field, hard limits."""

    key: str
    field: str
    minimum: int
    maximum: int
    description: str


#: The integer extra specs, in the order the docs list them.
INTEGER_SPECS: typing.Tuple[IntegerSpec, ...] = (
    IntegerSpec("hw:heartbeat_interval", "interval", 1, 3600,
                "Seconds between two challenges on each channel."),
    IntegerSpec("hw:heartbeat_timeout", "timeout", 1, 600,
                "Seconds a challenge may wait for its answer."),
    IntegerSpec("hw:heartbeat_failure_threshold", "failure_threshold", 1,
                100, "Consecutive missed heartbeats before the heartbeat "
                "is lost."),
    IntegerSpec("hw:heartbeat_boot_grace", "boot_grace", 0, 86400,
                "Longest wait, in seconds, for the first answer after the "
                "instance starts."),
)


def enabled(extra_specs: typing.Mapping[str, str]) -> bool:
    """Whether a flavor's extra specs turn monitoring on.

    A value the API would have refused (a flavor made before the
    validators were installed) counts as off.
    """
    return _boolean(extra_specs.get(ENABLED))


def qga_enabled(system_metadata: typing.Mapping[str, str]) -> bool:
    """Whether the instance's image asked for the QEMU guest agent."""
    return _boolean(system_metadata.get(IMAGE_QGA))


def panic_wanted(extra_specs: typing.Mapping[str, str],
                 system_metadata: typing.Mapping[str, str],
                 default: bool) -> bool:
    """Whether the guest gets a panic device.

    The flavor's or the image's ``false`` opts out; else the operator's
    default decides.
    """
    for value in (extra_specs.get(PANIC), system_metadata.get(IMAGE_PANIC)):
        if value is not None and strutils.bool_from_string(
                value, default=None) is False:
            return False
    return default


def _boolean(value: typing.Optional[str]) -> bool:
    if value is None:
        return False
    return bool(strutils.bool_from_string(value, default=False))


def settings(extra_specs: typing.Mapping[str, str], defaults: Settings,
             qga: bool) -> Settings:
    """What the flavor asks for, over the operator's defaults.

    A value that is not an integer within the hard limits is ignored (the
    API refuses it; an older flavor may still carry one).
    """
    changes: typing.Dict[str, typing.Any] = {}
    for spec in INTEGER_SPECS:
        value = _integer(extra_specs.get(spec.key), spec)
        if value is not None:
            changes[spec.field] = value
    return dataclasses.replace(defaults, heartbeat=True, qga=qga, **changes)


def refused(extra_specs: typing.Mapping[str, str]) -> typing.List[str]:
    """The values the API would refuse, as ``key=value``, in docs order.

    Such a value reaches a compute only through a flavor set below API
    microversion 2.86 (or before the validators were installed); it is
    ignored, and the operator should hear of it.
    """
    found = []
    for key in (ENABLED, PANIC):
        raw = extra_specs.get(key)
        if raw is not None and strutils.bool_from_string(
                raw, default=None) is None:
            found.append("%s=%s" % (key, raw))
    for spec in INTEGER_SPECS:
        value = extra_specs.get(spec.key)
        if value is not None and _integer(value, spec) is None:
            found.append("%s=%s" % (spec.key, value))
    return found


def _integer(raw: typing.Optional[str],
             spec: IntegerSpec) -> typing.Optional[int]:
    if raw is None:
        return None
    try:
        value = int(str(raw).strip(), 10)
    except ValueError:
        return None
    return value if spec.minimum <= value <= spec.maximum else None
