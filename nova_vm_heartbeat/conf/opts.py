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

"""Every option, for oslo-config-generator and the documentation.

Registered as the ``nova_vm_heartbeat`` entry point of ``oslo.config.opts``.
"""

from __future__ import annotations

import copy
import typing

from oslo_config import cfg

from nova_vm_heartbeat.conf import admin
from nova_vm_heartbeat.conf import heartbeat
from nova_vm_heartbeat.conf import masakari_bridge
from nova_vm_heartbeat.conf import masakari_client
from nova_vm_heartbeat.conf import metrics
from nova_vm_heartbeat.conf import sink
from nova_vm_heartbeat.conf import standalone

_MODULES = (heartbeat, sink, standalone, admin, metrics,
            masakari_bridge, masakari_client)


def list_opts() -> typing.List[typing.Tuple[cfg.OptGroup,
                                            typing.List[cfg.Opt]]]:
    """Return a list of ``(group, [option, ...])``, one per group.

    The options are deep copies: a tool that changes them (the sample
    generator sets defaults) does not change the ones programs register.
    """
    return [(group, copy.deepcopy(opts))
            for module in _MODULES
            for group, opts in module.list_opts().items()]
