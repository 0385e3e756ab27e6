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

"""Configurations that make the monitor useless are said, with the fix."""

from __future__ import annotations

import os
import typing

from oslo_config import cfg
import pytest

from nova_vm_heartbeat import conf as heartbeat_conf
from nova_vm_heartbeat.virt import checks


@pytest.fixture
def conf(tmp_path) -> cfg.ConfigOpts:
    """A configuration the monitor is useful with."""
    conf = cfg.ConfigOpts()
    heartbeat_conf.register_opts(conf)
    conf.register_opts([cfg.StrOpt("notification_format",
                                   default="unversioned")],
                       group="notifications")
    conf.register_opts([cfg.MultiStrOpt("driver", default=[])],
                       group="oslo_messaging_notifications")
    conf([], default_config_files=[])
    conf.set_override("notification_format", "versioned", "notifications")
    conf.set_override("driver", ["messagingv2"],
                      "oslo_messaging_notifications")
    conf.set_override("socket_dir", str(tmp_path), "heartbeat")
    conf.set_override("socket_path", str(tmp_path / "admin" / "a.sock"),
                      "heartbeat_admin")
    return conf


def test_a_useful_configuration_says_nothing(conf) -> None:
    assert checks.misconfiguration(conf) == []


@pytest.mark.parametrize("group, name, value, fix", [
    ("notifications", "notification_format", "unversioned",
     "set [notifications] notification_format = versioned"),
    ("oslo_messaging_notifications", "driver", ["noop"],
     "set [oslo_messaging_notifications] driver = messagingv2"),
    ("oslo_messaging_notifications", "driver", [],
     "set [oslo_messaging_notifications] driver = messagingv2"),
    ("heartbeat", "socket_dir", "/nonexistent/hb",
     "create it, writable by the user QEMU runs as (mkdir -p /nonexistent/"
     "hb"),
])
def test_each_useless_setting_is_an_error_with_its_fix(
        conf, caplog, group: str, name: str, value: typing.Any,
        fix: str) -> None:
    conf.set_override(name, value, group)
    checks.log_misconfiguration(conf)
    [record] = caplog.records
    assert record.levelname == "ERROR" and fix in record.getMessage()


def test_an_admin_dir_that_cannot_be_made(conf, tmp_path,
                                          monkeypatch) -> None:
    path = tmp_path / "ro" / "hb" / "admin.sock"
    (tmp_path / "ro").mkdir()
    conf.set_override("socket_path", str(path), "heartbeat_admin")
    assert checks.misconfiguration(conf) == []  # it will be created
    monkeypatch.setattr(os, "access", lambda path, mode: False)
    [problem] = checks.misconfiguration(conf)
    assert "create %s writable by nova-compute's user" % path.parent \
        in problem
    conf.set_override("enabled", False, "heartbeat_admin")
    assert checks.misconfiguration(conf) == []
