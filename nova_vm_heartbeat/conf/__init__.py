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

"""Configuration options, one module per group, and the plain values
made from them.

Nothing here reads or registers anything when imported. A program calls
:func:`register_opts` on its own ``ConfigOpts``, parses its configuration,
and turns it into plain values with the functions of
:mod:`nova_vm_heartbeat.conf.values`; nothing past that reads the
configuration.
"""

from __future__ import annotations

from oslo_config import cfg

from nova_vm_heartbeat.conf import admin
from nova_vm_heartbeat.conf import heartbeat
from nova_vm_heartbeat.conf import metrics
from nova_vm_heartbeat.conf import sink
from nova_vm_heartbeat.conf import standalone

__all__ = ["register_opts"]


def register_opts(conf: cfg.ConfigOpts) -> None:
    """Register every group of nova-vm-heartbeat on ``conf``."""
    for module in (heartbeat, sink, standalone, admin, metrics):
        module.register_opts(conf)
