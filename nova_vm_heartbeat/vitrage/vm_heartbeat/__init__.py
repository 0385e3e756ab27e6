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

"""The ``vm_heartbeat`` datasource: heartbeat verdicts as alarms on instances.

Vitrage registers :data:`OPTS` under ``[vm_heartbeat]``: the driver and
transformer class paths and the push update method (the driver consumes
our notifications from Vitrage's notification topic; it has nothing to
poll).
"""

from __future__ import annotations

import typing

from oslo_config import cfg

#: The datasource's name in ``[datasources] types``, its option group and
#: the ``vitrage_type`` of its alarms.
VM_HEARTBEAT_DATASOURCE = "vm_heartbeat"

OPTS: typing.List[cfg.Opt] = [
    cfg.StrOpt(
        "transformer",
        default="nova_vm_heartbeat.vitrage.vm_heartbeat.transformer."
                "VmHeartbeatTransformer",
        required=True,
        help="Class path of the vm_heartbeat transformer."),
    cfg.StrOpt(
        "driver",
        default="nova_vm_heartbeat.vitrage.vm_heartbeat.driver."
                "VmHeartbeatDriver",
        required=True,
        help="Class path of the vm_heartbeat driver."),
    cfg.StrOpt(
        "update_method",
        default="push",
        required=True,
        help="How the datasource is updated: push, from the heartbeat "
             "notifications on [datasources] notification_topics."),
]
