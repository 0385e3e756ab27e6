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

"""The ``tempest.test_plugins`` entry point."""

from __future__ import annotations

import os
import typing

from tempest import config
from tempest.test_discover import plugins

from nova_vm_heartbeat_tempest_plugin import config as plugin_config


class HeartbeatTempestPlugin(plugins.TempestPlugin):  # type: ignore[misc]
    """Registers our options, the Masakari client and the tests."""

    def load_tests(self) -> typing.Tuple[str, str]:
        top = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        return (os.path.join(top, "nova_vm_heartbeat_tempest_plugin",
                             "tests"), top)

    def register_opts(self, conf: typing.Any) -> None:
        config.register_opt_group(conf, plugin_config.service_available_group,
                                  plugin_config.service_available_opts)
        config.register_opt_group(conf, plugin_config.heartbeat_group,
                                  plugin_config.heartbeat_opts)
        config.register_opt_group(conf, plugin_config.instance_ha_group,
                                  plugin_config.instance_ha_opts)

    def get_opt_lists(self) -> typing.List[typing.Tuple[str, typing.Any]]:
        return [
            (plugin_config.heartbeat_group.name, plugin_config.heartbeat_opts),
            (plugin_config.instance_ha_group.name,
             plugin_config.instance_ha_opts),
            ("service_available", plugin_config.service_available_opts),
        ]

    def get_service_clients(self) -> typing.List[typing.Dict[str, typing.Any]]:
        params: typing.Dict[str, typing.Any] = {
            "name": "instance_ha",
            "service_version": "instance_ha",
            "module_path": "nova_vm_heartbeat_tempest_plugin.services",
            "client_names": ["InstanceHaClient"],
        }
        params.update(config.service_client_config("instance_ha"))
        return [params]
