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

"""Options of the ``[heartbeat_sink]`` group: where verdicts go."""

from __future__ import annotations

import typing

from oslo_config import cfg

from nova_vm_heartbeat.conf import groups

GROUP_NAME = "heartbeat_sink"


def _group() -> cfg.OptGroup:
    return groups.fresh_group(
        GROUP_NAME,
        title="Notification sink",
        help="""
Where the notifications made from verdicts go, and how undelivered ones
are kept. The transport of the ``messaging`` sink is oslo.messaging's
notification transport: ``[oslo_messaging_notifications] transport_url``,
or ``[DEFAULT] transport_url`` when that is not set.
""")


sink_opts: typing.List[cfg.Opt] = [
    cfg.StrOpt(
        "driver",
        default="messaging",
        help="""
The notification sink, by its name in the ``nova_vm_heartbeat.sinks``
namespace.

Possible values:

* ``messaging``: versioned notifications on the message bus, exactly as
  nova-compute sends its own (Masakari's bridge and Vitrage listen there).
  Notifications wait in an on-disk outbox until the broker takes them.
* ``log``: one INFO line per notification in the monitor's log.
* ``noop``: drop every notification.
* the name of a sink installed by another package.
"""),
    cfg.ListOpt(
        "topics",
        default=["versioned_notifications"],
        help="""
Topics the ``messaging`` sink publishes on. Each notification goes to
``<topic>.info`` on every topic listed, like nova's
``[notifications] versioned_notifications_topics``.

Related options:

* Vitrage listens on its own topic (``vitrage_notifications`` by default):
  list it here too if Vitrage should see the verdicts.
"""),
    cfg.StrOpt(
        "outbox_dir",
        default="/var/lib/nova-vm-heartbeat/outbox",
        help="""
Directory where the ``messaging`` sink keeps notifications until the broker
has accepted them, one file each. Created if missing. It must be on a local
file system and not shared by two monitors. Files left there by a
previous run are delivered first when the monitor starts.
"""),
    cfg.IntOpt(
        "outbox_max",
        default=10000,
        min=1,
        help="""
Most notifications that wait in the outbox. When it is full, the oldest
waiting notification is deleted to make room for the new one, with an
ERROR in the log naming it; the log also counts how many were dropped
since the monitor started.
"""),
    cfg.IntOpt(
        "retry",
        default=0,
        min=0,
        help="""
How many times oslo.messaging itself retries to send one notification
before the outbox takes over. The outbox retries without end, backing off
from 1 to 30 seconds, so a small value keeps the monitor's shutdown quick.
"""),
]


#: The outbox of the sink inside nova-compute.
nova_opts: typing.List[cfg.Opt] = [
    cfg.StrOpt(
        "nova_outbox_dir",
        help="""
Directory where the monitor inside nova-compute
(``heartbeat_libvirt.HeartbeatLibvirtDriver``) keeps notifications until
Nova's versioned notifier has taken them, one file each; created if
missing, by the user nova-compute runs as. When unset,
``<[DEFAULT] state_path>/heartbeat-outbox`` (nova's state directory,
``/var/lib/nova`` by default). It must be on a local file system and not shared
with another monitor. Notifications left there when nova-compute stopped
are sent first when it starts again. ``outbox_max`` bounds it too. The
standalone monitor does not read this option (it uses ``outbox_dir``).
"""),
]


def register_opts(conf: cfg.ConfigOpts) -> None:
    groups.register(conf, _group(), sink_opts + nova_opts)


def list_opts() -> typing.Dict[cfg.OptGroup, typing.List[cfg.Opt]]:
    return {_group(): sink_opts + nova_opts}
