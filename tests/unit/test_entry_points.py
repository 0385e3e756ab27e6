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

"""Every entry point declared in setup.cfg is installed and loads.

A renamed module, a typo in setup.cfg or a stale installation would
otherwise show only when an operator starts the service.
"""

from __future__ import annotations

import configparser
import importlib.metadata
import pathlib
import typing

from oslo_config import cfg
import pytest

from nova_vm_heartbeat import cmd
from nova_vm_heartbeat.sinks import base

SETUP_CFG = pathlib.Path(__file__).resolve().parents[2] / "setup.cfg"

# Loading the sinks imports oslo_messaging: native threads first.
cmd.use_native_threads()


def declared() -> typing.List[typing.Tuple[str, str, str]]:
    """``(group, name, target)`` for each entry point in setup.cfg."""
    parser = configparser.ConfigParser()
    parser.read(SETUP_CFG)
    found = []
    for group, text in parser["entry_points"].items():
        for line in text.strip().splitlines():
            name, _, target = line.partition("=")
            found.append((group, name.strip(), target.strip()))
    return found


DECLARED = declared()


def installed(group: str, name: str) -> importlib.metadata.EntryPoint:
    matches = [entry_point for entry_point
               in importlib.metadata.entry_points(group=group)
               if entry_point.name == name]
    assert len(matches) == 1, (
        "%s: %s is declared in setup.cfg but installed %d times; "
        "reinstall the package" % (group, name, len(matches)))
    return matches[0]


def test_the_expected_groups_are_declared():
    groups = {group for group, _, _ in DECLARED}
    assert {"console_scripts", "nova_vm_heartbeat.sinks",
            "oslo.config.opts"} <= groups


@pytest.mark.parametrize("group, name, target", DECLARED)
def test_installed_as_declared(group, name, target):
    entry_point = installed(group, name)
    assert entry_point.value == target
    assert entry_point.load() is not None


@pytest.mark.parametrize("name", [
    name for group, name, _ in DECLARED if group == "console_scripts"])
def test_console_scripts_are_callable(name):
    assert callable(installed("console_scripts", name).load())


@pytest.mark.parametrize("name", [
    name for group, name, _ in DECLARED if group == base.NAMESPACE])
def test_sinks_are_sinks(name):
    cls = installed(base.NAMESPACE, name).load()
    # Every sink is made with the service's ConfigOpts, and nothing else.
    make: typing.Callable[[cfg.ConfigOpts], object] = cls
    assert isinstance(cls, type) and issubclass(cls, base.Sink)
    assert isinstance(make(cfg.ConfigOpts()), base.Sink)


def test_the_sinks_every_namespace_has():
    names = {name for group, name, _ in DECLARED if group == base.NAMESPACE}
    assert {"noop", "log"} <= names


def test_oslo_config_opts_lists_groups():
    list_opts = installed("oslo.config.opts", "nova_vm_heartbeat").load()
    groups = list_opts()
    assert groups
    for group, options in groups:
        assert isinstance(group, cfg.OptGroup)
        assert options and all(isinstance(o, cfg.Opt) for o in options)
