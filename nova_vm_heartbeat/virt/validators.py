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

"""Extra spec validators for nova-api (``nova.api.extra_spec_validators``).

From API microversion 2.86 Nova refuses any ``hw:`` extra spec it has no
validator for, so this module must be installed where nova-api runs. It
imports only Nova's validator base: nova-api loads it at start-up.
"""

from __future__ import annotations

import typing

from nova.api.validation.extra_specs import base

from nova_vm_heartbeat.virt import specs


def _validators() -> typing.List[base.ExtraSpecValidator]:
    found = [base.ExtraSpecValidator(
        name=specs.ENABLED,
        description=(
            "Monitor the guest with introspective heartbeats "
            "(nova-vm-heartbeat): adds the org.openstack.heartbeat.0 "
            "virtio-serial channel. Only supported by the "
            "heartbeat_libvirt.HeartbeatLibvirtDriver compute driver."),
        value={"type": bool,
               "description": "Whether heartbeat monitoring is on."}),
        base.ExtraSpecValidator(
            name=specs.PANIC,
            description=(
                "Whether a hw:heartbeat guest gets a pvpanic device, so "
                "that a kernel panic is reported as guest_crashed at once "
                "(default: the compute host's [heartbeat] panic_device)."),
            value={"type": bool,
                   "description": "false: no panic device."})]
    for spec in specs.INTEGER_SPECS:
        found.append(base.ExtraSpecValidator(
            name=spec.key,
            description=spec.description + " Only used when "
            "hw:heartbeat is true; the operator's [heartbeat] bounds "
            "clamp it on the compute host.",
            value={"type": int, "min": spec.minimum, "max": spec.maximum}))
    return found


def register() -> typing.List[base.ExtraSpecValidator]:
    """The validators, one per key (the entry point's contract)."""
    return _validators()
