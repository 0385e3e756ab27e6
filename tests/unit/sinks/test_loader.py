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

"""Loading sinks by name, and the errors an operator sees."""

from __future__ import annotations

import typing

from oslo_config import cfg
import pytest
from stevedore import driver as stevedore_driver

from nova_vm_heartbeat import exception
from nova_vm_heartbeat import sinks
from nova_vm_heartbeat.sinks import impl_log
from nova_vm_heartbeat.sinks import impl_messaging
from nova_vm_heartbeat.sinks import impl_noop
from nova_vm_heartbeat.sinks import loader


@pytest.mark.parametrize("name, cls", [
    ("noop", impl_noop.NoopSink), ("log", impl_log.LogSink),
    ("messaging", impl_messaging.MessagingSink)])
def test_loads_each_sink_with_the_conf(name, cls):
    conf = cfg.ConfigOpts()
    sink = sinks.load(name, conf)
    assert type(sink) is cls
    assert isinstance(sink, sinks.Sink)


def test_the_conf_is_given_to_the_sink():
    conf = cfg.ConfigOpts()
    sink = sinks.load("noop", conf)
    assert isinstance(sink, impl_noop.NoopSink)
    assert sink.conf is conf


def test_installed():
    assert {"noop", "log", "messaging"} <= set(loader.installed())


def test_unknown_name_lists_the_installed_ones():
    with pytest.raises(exception.SinkNotFound) as caught:
        sinks.load("rabbit", cfg.ConfigOpts())
    message = str(caught.value)
    assert message.startswith("No notification sink named 'rabbit'")
    assert "log, messaging, noop" in message
    assert caught.value.kwargs["name"] == "rabbit"


def test_a_sink_that_fails_to_load():
    conf = cfg.ConfigOpts()
    # An option of the same name but another type: registering the sink's
    # own options in its constructor fails.
    conf.register_opt(cfg.IntOpt("topics"), group="heartbeat_sink")
    with pytest.raises(exception.SinkLoadFailed) as caught:
        sinks.load("messaging", conf)
    assert "'messaging'" in str(caught.value)
    assert isinstance(caught.value.__cause__, cfg.DuplicateOptError)


def test_a_plugin_that_is_not_a_sink(monkeypatch):
    class NotASinkManager:
        def __init__(self, *args: typing.Any, **kwargs: typing.Any):
            self.driver = object()

    monkeypatch.setattr(stevedore_driver, "DriverManager", NotASinkManager)
    with pytest.raises(exception.SinkLoadFailed) as caught:
        sinks.load("noop", cfg.ConfigOpts())
    assert "is not a Sink" in str(caught.value)
