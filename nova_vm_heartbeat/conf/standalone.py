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

"""Options of the ``[heartbeat_standalone]`` group.

They are read by ``nova-vm-heartbeat-monitor`` only, the monitor that runs
beside nova-compute instead of inside it.
"""

from __future__ import annotations

import socket
import typing

from oslo_config import cfg

from nova_vm_heartbeat.conf import groups

GROUP_NAME = "heartbeat_standalone"


def _group() -> cfg.OptGroup:
    return groups.fresh_group(
        GROUP_NAME,
        title="Standalone monitor",
        help="""
Options of the standalone monitor, ``nova-vm-heartbeat-monitor``, which
finds the instances to monitor through libvirt instead of inside
nova-compute.
""")


standalone_opts: typing.List[cfg.Opt] = [
    cfg.StrOpt(
        "libvirt_uri",
        default="qemu:///system",
        help="""
The libvirt connection URI of the hypervisor whose domains are monitored:
the same as nova-compute's ``[libvirt] connection_uri`` (nova's own default
for QEMU and KVM is ``qemu:///system``).
"""),
    cfg.StrOpt(
        "host",
        sample_default="<the machine's hostname>",
        help="""
This compute host's name, as nova-compute knows it (its ``[DEFAULT] host``).
It becomes the notifications' publisher, ``nova-compute:<host>``. Defaults
to the machine's hostname, which is also nova's default.
"""),
]


def register_opts(conf: cfg.ConfigOpts) -> None:
    groups.register(conf, _group(), standalone_opts)


def list_opts() -> typing.Dict[cfg.OptGroup, typing.List[cfg.Opt]]:
    return {_group(): standalone_opts}


def host(conf: cfg.ConfigOpts) -> str:
    """The configured host name, or the machine's hostname."""
    configured: typing.Optional[str] = conf.heartbeat_standalone.host
    return configured or socket.gethostname()
