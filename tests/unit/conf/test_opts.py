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

"""The option groups, their registration and the generator's view."""

from __future__ import annotations

import pathlib
import socket
import subprocess
import sys

from oslo_config import cfg
import pytest

from nova_vm_heartbeat import conf as heartbeat_conf
from nova_vm_heartbeat.conf import admin
from nova_vm_heartbeat.conf import heartbeat
from nova_vm_heartbeat.conf import metrics
from nova_vm_heartbeat.conf import opts
from nova_vm_heartbeat.conf import sink
from nova_vm_heartbeat.conf import standalone
from nova_vm_heartbeat.monitor.policy import Settings

GROUPS = ("heartbeat", "heartbeat_sink", "heartbeat_standalone",
          "heartbeat_admin", "heartbeat_metrics", "masakari_bridge",
          "masakari")
MODULES = (heartbeat, sink, standalone, admin, metrics)


def test_every_group_registers(conf):
    for module in MODULES:
        [(group, options)] = module.list_opts().items()
        assert group.name in conf
        for option in options:
            assert getattr(conf[group.name], option.dest) == option.default


def test_register_twice_is_harmless(conf):
    heartbeat_conf.register_opts(conf)
    assert conf.heartbeat.interval == Settings().interval


def test_list_opts_shape():
    listed = opts.list_opts()
    assert [group.name for group, _ in listed] == list(GROUPS)
    for group, options in listed:
        assert group.help and group.title
        names = [option.name for option in options]
        assert len(names) == len(set(names))
        for option in options:
            assert option.help, "%s.%s has no help" % (group, option.name)


def test_list_opts_returns_copies():
    listed = dict((group.name, options) for group, options in opts.list_opts())
    listed["heartbeat"][0].default = 99.0
    assert heartbeat.defaults_opts[0].default == Settings().interval
    again = dict((g.name, o) for g, o in opts.list_opts())
    assert again["heartbeat"][0].default == Settings().interval


def test_configs_do_not_share_state():
    first, second = cfg.ConfigOpts(), cfg.ConfigOpts()
    for conf in (first, second):
        heartbeat_conf.register_opts(conf)
        conf([])
    first.set_override("outbox_dir", "/elsewhere", group="heartbeat_sink")
    assert second.heartbeat_sink.outbox_dir == (
        "/var/lib/nova-vm-heartbeat/outbox")


def test_sink_defaults(conf):
    group = conf.heartbeat_sink
    assert group.driver == "messaging"
    assert group.topics == ["versioned_notifications"]
    assert group.outbox_dir == "/var/lib/nova-vm-heartbeat/outbox"
    assert group.outbox_max == 10000


def test_standalone_defaults(conf):
    assert conf.heartbeat_standalone.libvirt_uri == "qemu:///system"
    assert standalone.host(conf) == socket.gethostname()
    conf.set_override("host", "compute-7", group="heartbeat_standalone")
    assert standalone.host(conf) == "compute-7"


def test_socket_dir_default(conf):
    assert conf.heartbeat.socket_dir == "/var/lib/libvirt/qemu"


@pytest.mark.parametrize("name, value", [
    ("interval", 0.0), ("failure_threshold", 0), ("qga_workers", 0),
    ("max_line_bytes", 10)])
def test_out_of_range_values_are_refused(conf, name, value):
    with pytest.raises(ValueError):
        conf.set_override(name, value, group="heartbeat")


def test_read_from_a_file(tmp_path: pathlib.Path):
    path = tmp_path / "nova-vm-heartbeat.conf"
    path.write_text("[heartbeat]\ninterval = 2.5\n"
                    "[heartbeat_sink]\ndriver = log\ntopics = a,b\n"
                    "[heartbeat_standalone]\nhost = compute-3\n")
    conf = cfg.ConfigOpts()
    heartbeat_conf.register_opts(conf)
    conf(["--config-file", str(path)])
    assert conf.heartbeat.interval == 2.5
    assert conf.heartbeat_sink.driver == "log"
    assert conf.heartbeat_sink.topics == ["a", "b"]
    assert standalone.host(conf) == "compute-3"


def test_importing_registers_nothing():
    probe = ("from oslo_config import cfg\n"
             "before = list(cfg.CONF)\n"
             "import nova_vm_heartbeat.conf.opts\n"
             "import nova_vm_heartbeat.conf.values\n"
             "import nova_vm_heartbeat.cmd.monitor\n"
             "assert list(cfg.CONF) == before, list(cfg.CONF)\n")
    subprocess.run([sys.executable, "-c", probe], check=True, timeout=60)
