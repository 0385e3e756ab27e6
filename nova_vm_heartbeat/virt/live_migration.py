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

"""Live migration and the heartbeat socket's path.

Nova does not rewrite the heartbeat channel's path when it live migrates
a guest: the destination's QEMU binds the socket where the source's XML
says, ``<source [heartbeat] socket_dir>/org.openstack.heartbeat.0.<name>
.sock``. With another ``socket_dir`` on the destination its monitor looks
elsewhere and the guest is reported lost; with that directory missing
there, QEMU cannot bind and the migration fails half way.

So each host publishes its ``socket_dir`` in its compute node's stats
(:data:`STAT`, through ``get_available_resource``), and the destination
refuses, in Nova's pre-live-migration check, to receive a monitored
instance from a host with another directory, or when its own is missing:
the migration then fails before anything moved, with the reason in the
instance action.
"""

from __future__ import annotations

import os
import typing

#: The compute node stat that carries a host's [heartbeat] socket_dir.
STAT = "heartbeat_socket_dir"


def refusal(source_stats: typing.Optional[typing.Mapping[str, typing.Any]],
            socket_dir: str) -> typing.Optional[str]:
    """Why a monitored instance may not live migrate here (None: it may).

    :param source_stats: the source compute node's stats.
    :param socket_dir: this (the destination) host's ``socket_dir``.
    """
    if not os.path.isdir(socket_dir):
        return ("the heartbeat socket directory %s ([heartbeat] socket_dir)"
                " does not exist on the destination host; create it, "
                "writable by the user QEMU runs as" % socket_dir)
    source_dir = (source_stats or {}).get(STAT)
    if source_dir is None or source_dir == socket_dir:
        return None  # a source without the driver, or the same directory
    return ("[heartbeat] socket_dir is %s on the source host and %s on the "
            "destination host; Nova keeps the source's heartbeat channel "
            "path when it live migrates, so set the same [heartbeat] "
            "socket_dir on both hosts" % (source_dir, socket_dir))
