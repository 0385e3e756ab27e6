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

"""Options of the ``[masakari]`` group: how the bridge reaches Masakari.

These are keystoneauth1's standard session, authentication and adapter
options, as Nova has for ``[placement]`` or ``[neutron]``: openstacksdk
reads the adapter options (``endpoint_override``, ``valid_interfaces``,
``region_name``...) from the group named after Masakari's project,
``[masakari]``, for its ``instance-ha`` service. Creating a Masakari
notification needs the admin role (Masakari's policy
``os_masakari_api:notifications:create`` is ``rule:admin_api``).
"""

from __future__ import annotations

import types
import typing

from oslo_config import cfg

from nova_vm_heartbeat.conf import groups

#: The group openstacksdk looks up for the ``instance-ha`` service.
GROUP_NAME = "masakari"
SERVICE_TYPE = "instance-ha"
#: The plugin whose options the sample configuration shows.
SAMPLE_AUTH_TYPE = "password"


def _group() -> cfg.OptGroup:
    return groups.fresh_group(
        GROUP_NAME,
        title="Masakari API",
        help="""
Credentials and endpoint of the Masakari API for the Masakari bridge. The
user needs the admin role: Masakari accepts notifications from admins
only. Any keystoneauth1 plugin works (``auth_type``); the sample shows
the options of ``password``.
""")


def _loading() -> types.ModuleType:
    """keystoneauth1's loading module, imported when first needed.

    Importing keystoneauth1 imports osprofiler, which registers
    oslo.concurrency's options on the global configuration: not a side
    effect importing this module may have.
    """
    from keystoneauth1 import loading
    return loading


def _adapter_opts() -> typing.List[cfg.Opt]:
    opts: typing.List[cfg.Opt] = _loading().get_adapter_conf_options(
        include_deprecated=False)
    cfg.set_defaults(opts, service_type=SERVICE_TYPE,
                     valid_interfaces=["internal", "public"])
    return opts


def register_opts(conf: cfg.ConfigOpts) -> None:
    """Register the session, auth and adapter options of ``[masakari]``."""
    ks_loading = _loading()
    conf.register_group(_group())
    ks_loading.register_session_conf_options(conf, GROUP_NAME)
    ks_loading.register_auth_conf_options(conf, GROUP_NAME)
    conf.register_opts(_adapter_opts(), group=GROUP_NAME)


def list_opts() -> typing.Dict[cfg.OptGroup, typing.List[cfg.Opt]]:
    ks_loading = _loading()
    opts: typing.List[cfg.Opt] = (
        ks_loading.get_session_conf_options()
        + ks_loading.get_auth_common_conf_options()
        + ks_loading.get_auth_plugin_conf_options(SAMPLE_AUTH_TYPE)
        + _adapter_opts())
    return {_group(): opts}
