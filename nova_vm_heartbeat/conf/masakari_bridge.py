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

"""Options of the ``[masakari_bridge]`` group.

They are read by ``nova-vm-heartbeat-masakari-bridge`` only: which
notifications it listens to, which verdicts it turns into Masakari
notifications, and how it retries while Masakari does not answer.
"""

from __future__ import annotations

import typing

from oslo_config import cfg
from oslo_config import types

from nova_vm_heartbeat.conf import groups
from nova_vm_heartbeat.monitor import verdicts as vd

GROUP_NAME = "masakari_bridge"

#: What Masakari recovers by default: the guest is stuck or dead, or asks
#: for it. ``app_unhealthy`` is opt-in (the guest still runs), and
#: ``agent_failure`` is not a guest failure at all.
DEFAULT_FAULT_CLASSES = [
    vd.FaultClass.GUEST_HUNG.value,
    vd.FaultClass.GUEST_CRASHED.value,
    vd.FaultClass.VM_FROZEN.value,
    vd.FaultClass.GUEST_REQUESTED.value,
]


def _group() -> cfg.OptGroup:
    return groups.fresh_group(
        GROUP_NAME,
        title="Masakari bridge",
        help="""
Options of ``nova-vm-heartbeat-masakari-bridge``, which turns heartbeat
verdicts into Masakari VM notifications. The bus it listens on is
oslo.messaging's notification transport (``[oslo_messaging_notifications]
transport_url``, else ``[DEFAULT] transport_url``); Masakari's credentials
are in ``[masakari]``.
""")


bridge_opts: typing.List[cfg.Opt] = [
    cfg.ListOpt(
        "topics",
        default=["versioned_notifications"],
        help="""
Topics to listen on, the ones the monitors publish on (``[heartbeat_sink]
topics`` of the standalone monitor, nova's ``[notifications]
versioned_notifications_topics`` inside nova-compute). The bridge reads
``<topic>.info``.
"""),
    cfg.StrOpt(
        "exchange",
        default="nova",
        help="The exchange the monitors publish on (nova's, by default)."),
    cfg.StrOpt(
        "pool",
        default="nova-vm-heartbeat-masakari-bridge",
        help="""
Name of the listener pool, which is also the name of the queue. Bridges
with the same pool share one queue: each notification goes to one of
them, and the others take over the notifications of a bridge that dies.
The pool gets its own copy of every notification, so other consumers of
the same topics are not affected. Give two groups of bridges different
pools only if each group should act on every notification.
"""),
    cfg.ListOpt(
        "fault_classes",
        item_type=types.String(choices=[f.value for f in vd.FaultClass]),
        default=DEFAULT_FAULT_CLASSES,
        help="""
Fault classes of the verdicts that ask Masakari to recover the instance.
Heartbeat lost with ``guest_hung``, ``guest_crashed`` or ``vm_frozen``, and
recovery requested by the guest (``guest_requested``) by default. Add
``app_unhealthy`` to recover instances whose guest reports a failed
component; ``agent_failure`` (our agent is gone, the guest answers the QEMU
guest agent) is rarely worth a restart, and ``agent_absent`` (nothing ever
answered since the domain started: no agent in the image) never is.
Restored verdicts never trigger anything.
"""),
    cfg.IntOpt(
        "attempts",
        default=3,
        min=1,
        help="""
Attempts to give one notification to Masakari before it is put back on
the queue. Connection errors and 5xx answers are retried; the delays grow
from ``retry_delay`` to ``retry_max_delay`` and are shared by every
notification, so an unreachable Masakari is asked a few times a minute,
not once per waiting notification.
"""),
    cfg.FloatOpt(
        "retry_delay",
        default=1.0,
        min=0.0,
        help="First delay, in seconds, after Masakari could not be reached."),
    cfg.FloatOpt(
        "retry_max_delay",
        default=30.0,
        min=0.0,
        help="Longest delay, in seconds, between two attempts."),
]

#: Whether a verdict is still current when the bridge reads it.
freshness_opts: typing.List[cfg.Opt] = [
    cfg.FloatOpt(
        "max_verdict_age",
        default=300.0,
        min=0.0,
        help="""
Oldest verdict, in seconds since the monitor made it (its
``generated_at``), that still asks Masakari for a recovery; 0 for no
limit. A verdict that waited longer (the broker, Masakari or the bridge
was down) is acknowledged and logged, not acted on: the instance may
have recovered since. Keep the clocks of the compute hosts and of the
bridge in step (NTP). Independently of the age, a verdict is never acted
on after a ``heartbeat_restored`` of the same instance and episode.
"""),
]


def register_opts(conf: cfg.ConfigOpts) -> None:
    groups.register(conf, _group(), bridge_opts + freshness_opts)


def list_opts() -> typing.Dict[cfg.OptGroup, typing.List[cfg.Opt]]:
    return {_group(): bridge_opts + freshness_opts}
