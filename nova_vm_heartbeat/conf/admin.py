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

"""Options of the ``[heartbeat_admin]`` group: the local admin socket.

The monitor (standalone or inside nova-compute) serves it; ``nova-vm-
heartbeat status`` reads the same option to find it.
"""

from __future__ import annotations

import typing

from oslo_config import cfg

from nova_vm_heartbeat.conf import groups

GROUP_NAME = "heartbeat_admin"
DEFAULT_PATH = "/run/nova-vm-heartbeat/admin.sock"


def _group() -> cfg.OptGroup:
    return groups.fresh_group(
        GROUP_NAME,
        title="Admin socket",
        help="""
The monitor's local admin socket, which ``nova-vm-heartbeat status`` asks
for the state of every monitored instance.
""")


admin_opts: typing.List[cfg.Opt] = [
    cfg.BoolOpt(
        "enabled",
        default=True,
        help="""
Serve the admin socket. It is local, read-only, and costs nothing while
nobody asks; turn it off only if the socket's directory cannot exist.
"""),
    cfg.StrOpt(
        "socket_path",
        default=DEFAULT_PATH,
        help="""
Where the admin socket is bound. Its directory is created if missing. A
socket left behind by a monitor that died is replaced; one a running
monitor serves is not (the second monitor then serves no socket).
"""),
    cfg.StrOpt(
        "socket_group",
        default="nova",
        help="""
The group allowed to use the admin socket besides its owner (the socket's
mode is 0660; root can always use it). If the group does not exist, only
the owner can. Empty: the monitor process's own group.
"""),
]


def register_opts(conf: cfg.ConfigOpts) -> None:
    groups.register(conf, _group(), admin_opts)


def list_opts() -> typing.Dict[cfg.OptGroup, typing.List[cfg.Opt]]:
    return {_group(): admin_opts}
