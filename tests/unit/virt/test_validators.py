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

"""The extra spec validators, through Nova's own validation machinery.

``nova.api.extra_spec_validators`` loads every installed validator module
by entry point, as nova-api does, so these tests also prove ours is
installed under that entry point.
"""

from __future__ import annotations

from nova.api.validation.extra_specs import validators as nova_validators
from nova import exception as nova_exception
import pytest

from nova_vm_heartbeat.virt import specs
from nova_vm_heartbeat.virt import validators

KEYS = ["hw:heartbeat", "hw:heartbeat_panic", "hw:heartbeat_interval",
        "hw:heartbeat_timeout", "hw:heartbeat_failure_threshold",
        "hw:heartbeat_boot_grace"]


def test_one_validator_per_key() -> None:
    assert [v.name for v in validators.register()] == KEYS


@pytest.mark.parametrize("name, value", [
    ("hw:heartbeat", "true"), ("hw:heartbeat", "False"),
    ("hw:heartbeat", "yes"), ("hw:heartbeat_panic", "false"),
    ("hw:heartbeat_interval", "1"),
    ("hw:heartbeat_interval", "3600"), ("hw:heartbeat_timeout", "5"),
    ("hw:heartbeat_failure_threshold", "3"),
    ("hw:heartbeat_boot_grace", "0"),
])
def test_valid_values_pass(name: str, value: str) -> None:
    nova_validators.validate(name, value)


@pytest.mark.parametrize("name, value, why", [
    ("hw:heartbeat", "maybe", "not a valid boolean-like value"),
    ("hw:heartbeat_interval", "0", "less than the min value of '1'"),
    ("hw:heartbeat_interval", "3601", "greater than the max value"),
    ("hw:heartbeat_interval", "1.5", "not a valid integer"),
    ("hw:heartbeat_timeout", "-1", "less than the min value"),
    ("hw:heartbeat_failure_threshold", "101", "greater than the max"),
    ("hw:heartbeat_boot_grace", "soon", "not a valid integer"),
    ("hw:heartbeat_bogus", "1", "does not appear to be a valid extra spec"),
])
def test_invalid_values_say_why(name: str, value: str, why: str) -> None:
    with pytest.raises(nova_exception.ValidationError, match=why):
        nova_validators.validate(name, value)


def test_the_limits_are_those_the_compute_host_reads() -> None:
    by_name = {v.name: v for v in validators.register()}
    for spec in specs.INTEGER_SPECS:
        value = by_name[spec.key].value
        assert (value["min"], value["max"]) == (spec.minimum, spec.maximum)
