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

"""``nova-vm-heartbeat-masakari-bridge``: start-up checks and exit status."""

from __future__ import annotations

import logging
import pathlib

from oslo_config import cfg
import pytest

from nova_vm_heartbeat.cmd import masakari_bridge
from nova_vm_heartbeat.conf import masakari_bridge as bridge_conf
from nova_vm_heartbeat.conf import masakari_client


def make_conf(tmp_path: pathlib.Path, text: str) -> cfg.ConfigOpts:
    path = tmp_path / "bridge.conf"
    path.write_text(text)
    conf = cfg.ConfigOpts()
    bridge_conf.register_opts(conf)
    masakari_client.register_opts(conf)
    conf(["--config-file", str(path)])
    return conf


def test_defaults(tmp_path):
    conf = make_conf(tmp_path, "")
    group = conf.masakari_bridge
    assert group.topics == ["versioned_notifications"]
    assert group.exchange == "nova"
    assert group.pool == "nova-vm-heartbeat-masakari-bridge"
    assert group.fault_classes == [
        "guest_hung", "guest_crashed", "vm_frozen", "guest_requested"]
    assert conf.masakari.service_type == "instance-ha"


def test_unknown_fault_class_is_refused(tmp_path):
    conf = make_conf(tmp_path, "[masakari_bridge]\nfault_classes = bored\n")
    with pytest.raises(ValueError):
        conf.masakari_bridge.fault_classes


def test_no_credentials_no_start(tmp_path, caplog):
    conf = make_conf(tmp_path, "[DEFAULT]\ntransport_url = fake://\n")
    caplog.set_level(logging.ERROR)
    assert masakari_bridge.run(conf) == 1
    assert "[masakari] auth_type is not set" in caplog.text
    # The bridge logs under its own name, not the monitor's.
    assert {r.name for r in caplog.records} == {
        "nova_vm_heartbeat.cmd.masakari_bridge"}
