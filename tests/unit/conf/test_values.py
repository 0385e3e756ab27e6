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

"""From options to the plain values the runtime takes (conf.values and
composition.runtime_options)."""

from __future__ import annotations

import dataclasses
import typing

from oslo_config import cfg
import pytest

from nova_vm_heartbeat import composition
from nova_vm_heartbeat.conf import admin
from nova_vm_heartbeat.conf import heartbeat
from nova_vm_heartbeat.conf import values
from nova_vm_heartbeat import exception
from nova_vm_heartbeat.monitor.policy import Bounds
from nova_vm_heartbeat.monitor.policy import Settings
from nova_vm_heartbeat.protocol.limits import Limits
from nova_vm_heartbeat.runtime.options import AdminEndpoint
from nova_vm_heartbeat.runtime.options import RuntimeOptions


def override(conf: cfg.ConfigOpts, **options: object) -> None:
    for name, value in options.items():
        conf.set_override(name, value, group="heartbeat")


def test_defaults_are_those_of_the_plain_classes(conf):
    assert values.bounds(conf) == Bounds()
    assert values.default_settings(conf) == Settings()
    assert values.limits(conf) == Limits()
    # The admin socket is on by default, the metrics endpoint off.
    options = composition.runtime_options(conf, "compute-1",
                                          "qemu:///system")
    assert options == (
        RuntimeOptions(host="compute-1", admin=AdminEndpoint(
            path=admin.DEFAULT_PATH, group="nova"),
            state_file=heartbeat.DEFAULT_STATE_FILE))


def distinct_values(cls: typing.Any) -> typing.Dict[str, typing.Any]:
    """A value per field of ``cls``, each different from its default."""
    changed: typing.Dict[str, typing.Any] = {}
    for number, field in enumerate(dataclasses.fields(cls)):
        default: typing.Any = field.default
        if field.type in ("int", int):
            changed[field.name] = default + 1 + number
        elif field.type in ("float", float):
            changed[field.name] = default + 1.5 + number
    return changed


def test_bounds_mapping(conf):
    wanted = distinct_values(Bounds)
    assert len(wanted) == len(dataclasses.fields(Bounds))
    # Keep every floor below its ceiling.
    wanted["max_interval"] = wanted["min_interval"] + 100
    wanted["max_failure_threshold"] = wanted["min_failure_threshold"] + 5
    override(conf, **wanted)
    assert values.bounds(conf) == Bounds(**wanted)


def test_limits_mapping(conf):
    wanted = distinct_values(Limits)
    assert len(wanted) == len(dataclasses.fields(Limits))
    wanted["max_buffer_bytes"] = wanted["max_line_bytes"] * 4
    override(conf, **wanted)
    assert values.limits(conf) == Limits(**wanted)


def test_default_settings_mapping(conf):
    override(conf, interval=2.0, timeout=1.0, failure_threshold=4,
             boot_grace=90.0)
    assert values.default_settings(conf) == Settings(
        interval=2.0, timeout=1.0, failure_threshold=4, boot_grace=90.0)


def test_runtime_options_mapping(conf):
    override(conf, refresh_interval=5.0, stats_interval=0.25, qga_workers=8,
             reconnect_max=10.0, read_budget=4096, interval=2.0,
             max_line_bytes=1024)
    options = composition.runtime_options(conf, "compute-9", None)
    assert options.host == "compute-9"
    assert options.libvirt_uri is None
    assert (options.refresh_interval, options.stats_interval,
            options.qga_workers, options.reconnect_max,
            options.read_budget) == (5.0, 0.25, 8, 10.0, 4096)
    assert options.defaults.interval == 2.0
    assert options.limits.max_line_bytes == 1024
    assert options.bounds == Bounds()


@pytest.mark.parametrize("low, high", [
    ("min_interval", "max_interval"), ("min_timeout", "max_timeout"),
    ("min_failure_threshold", "max_failure_threshold"),
    ("min_boot_grace", "max_boot_grace")])
def test_floor_above_ceiling(conf, low, high):
    override(conf, **{low: 50, high: 40})
    with pytest.raises(exception.InvalidConfiguration) as caught:
        values.bounds(conf)
    assert "[heartbeat] %s (50" % low in str(caught.value)
    with pytest.raises(exception.InvalidConfiguration):
        composition.runtime_options(conf, "h", None)


def test_floor_equal_to_ceiling_is_fine(conf):
    override(conf, min_interval=5.0, max_interval=5.0)
    assert values.bounds(conf).max_interval == 5.0


def test_buffer_smaller_than_a_line(conf):
    override(conf, max_line_bytes=4096, max_buffer_bytes=4096)
    with pytest.raises(exception.InvalidConfiguration) as caught:
        values.limits(conf)
    assert "max_buffer_bytes" in str(caught.value)
    assert isinstance(caught.value.__cause__, ValueError)
