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

"""Flavor extra specs and image properties into monitor settings."""

from __future__ import annotations

import typing

import pytest

from nova_vm_heartbeat.monitor.policy import Settings
from nova_vm_heartbeat.virt import specs

DEFAULTS = Settings(interval=10.0, timeout=5.0, failure_threshold=3,
                    boot_grace=300.0, heartbeat=False, qga=False)


@pytest.mark.parametrize("value, on", [
    ("true", True), ("True", True), ("1", True), ("yes", True),
    ("false", False), ("0", False), ("maybe", False), (None, False)])
def test_enabled(value, on) -> None:
    extra = {} if value is None else {"hw:heartbeat": value}
    assert specs.enabled(extra) is on


def test_settings_take_the_flavor_over_the_defaults() -> None:
    got = specs.settings({
        "hw:heartbeat": "true", "hw:heartbeat_interval": "2",
        "hw:heartbeat_timeout": "1", "hw:heartbeat_failure_threshold": "4",
        "hw:heartbeat_boot_grace": "60"}, DEFAULTS, qga=True)
    assert got == Settings(interval=2, timeout=1, failure_threshold=4,
                           boot_grace=60, heartbeat=True, qga=True)


def test_values_the_api_would_refuse_are_ignored() -> None:
    got = specs.settings({"hw:heartbeat_interval": "0",
                          "hw:heartbeat_timeout": "x",
                          "hw:heartbeat_boot_grace": "99999999"},
                         DEFAULTS, qga=False)
    assert (got.interval, got.timeout, got.boot_grace) == (10.0, 5.0, 300.0)
    assert got.heartbeat is True


def test_qga_comes_from_the_image_property() -> None:
    assert specs.qga_enabled({"image_hw_qemu_guest_agent": "yes"})
    assert not specs.qga_enabled({"image_hw_qemu_guest_agent": "no"})
    assert not specs.qga_enabled({})


@pytest.mark.parametrize("flavor, image, default, wanted", [
    (None, None, True, True),
    (None, None, False, False),
    ("false", None, True, False),
    (None, "no", True, False),
    ("true", None, False, False),  # opting in is the operator's call
    ("maybe", None, True, True),  # refused by the API; ignored here
])
def test_the_panic_device_is_an_opt_out(
        flavor: typing.Optional[str], image: typing.Optional[str],
        default: bool, wanted: bool) -> None:
    extra = {} if flavor is None else {specs.PANIC: flavor}
    meta = {} if image is None else {specs.IMAGE_PANIC: image}
    assert specs.panic_wanted(extra, meta, default) is wanted


def test_refused_values_are_listed() -> None:
    assert specs.refused({"hw:heartbeat": "yes", "hw:heartbeat_panic": "x",
                          "hw:heartbeat_interval": "0"}) == [
        "hw:heartbeat_panic=x", "hw:heartbeat_interval=0"]
