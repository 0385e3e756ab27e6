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

"""The plain values made from the configuration.

``monitor/`` and ``runtime/`` take frozen dataclasses, never a
``ConfigOpts``. These functions build those of ``monitor/`` and
``protocol/`` from the ``[heartbeat]`` group (``runtime/``'s options are
put together by :mod:`nova_vm_heartbeat.composition`), and check what
oslo.config cannot check option by option: that each floor is below its
ceiling, and that the protocol limits agree.
"""

from __future__ import annotations

import typing

from oslo_config import cfg

from nova_vm_heartbeat import exception
from nova_vm_heartbeat.monitor.policy import Bounds
from nova_vm_heartbeat.monitor.policy import Settings
from nova_vm_heartbeat.protocol.limits import Limits

#: Floor and ceiling pairs of :class:`Bounds`.
_RANGES = (
    ("min_interval", "max_interval"),
    ("min_timeout", "max_timeout"),
    ("min_failure_threshold", "max_failure_threshold"),
    ("min_boot_grace", "max_boot_grace"),
)

_BOUNDS_FIELDS = (
    "min_interval", "max_interval", "min_timeout", "max_timeout",
    "min_failure_threshold", "max_failure_threshold", "min_boot_grace",
    "max_boot_grace", "max_maintenance", "max_operation", "max_lifecycle",
    "rearm_grace", "verdict_burst", "verdict_interval",
    "maintenance_budget", "maintenance_window", "request_cooldown",
    "requests_per_hour", "qga_check_interval",
)

_LIMITS_FIELDS = (
    "max_line_bytes", "max_buffer_bytes", "max_depth", "max_string_chars",
    "max_components", "max_messages_per_second", "max_burst",
)


def _group(conf: cfg.ConfigOpts,
           names: typing.Iterable[str]) -> typing.Dict[str, typing.Any]:
    group = conf.heartbeat
    return {name: getattr(group, name) for name in names}


def bounds(conf: cfg.ConfigOpts) -> Bounds:
    """The operator's floors, ceilings and caps.

    :raises InvalidConfiguration: a floor is above its ceiling.
    """
    values = _group(conf, _BOUNDS_FIELDS)
    for low, high in _RANGES:
        if values[low] > values[high]:
            raise exception.InvalidConfiguration(
                reason="[heartbeat] %s (%s) is above %s (%s)"
                % (low, values[low], high, values[high]))
    return Bounds(**values)


def default_settings(conf: cfg.ConfigOpts) -> Settings:
    """The settings of instances that ask for nothing."""
    return Settings(**_group(
        conf, ("interval", "timeout", "failure_threshold", "boot_grace")))


def limits(conf: cfg.ConfigOpts) -> Limits:
    """The bounds on what a guest may send.

    :raises InvalidConfiguration: the limits contradict each other.
    """
    try:
        return Limits(**_group(conf, _LIMITS_FIELDS))
    except ValueError as err:
        raise exception.InvalidConfiguration(
            reason="[heartbeat] %s" % err) from err
