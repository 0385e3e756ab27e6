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

"""The oslo.messaging side: which messages reach the bridge, and the
results the listener turns into acknowledgements."""

from __future__ import annotations

import typing

from oslo_config import cfg
import oslo_messaging

from nova_vm_heartbeat.conf import masakari_bridge as bridge_conf
from nova_vm_heartbeat.conf import masakari_client
from nova_vm_heartbeat.masakari import bridge
from nova_vm_heartbeat.masakari.delivery import Disposition
from nova_vm_heartbeat.masakari import listener


class Deliverer:
    def __init__(self, disposition: Disposition):
        self.disposition = disposition
        self.seen: typing.List[str] = []

    def handle(self, event_type, publisher_id, payload):
        self.seen.append(event_type)
        return self.disposition


def info(endpoint: listener.Endpoint, event_type: str) -> typing.Any:
    return endpoint.info({}, "nova-compute:c1", event_type, {}, {})


def test_results_are_oslo_messaging_results():
    for disposition, result in (
            (Disposition.ACK, oslo_messaging.NotificationResult.HANDLED),
            (Disposition.REQUEUE, oslo_messaging.NotificationResult.REQUEUE)):
        endpoint = listener.Endpoint(Deliverer(disposition))  # type: ignore
        assert info(endpoint, "instance.heartbeat_lost") == result


def test_an_endpoint_error_acknowledges_the_message_once(caplog):
    """oslo.messaging would requeue it, and it would come back forever."""
    class Broken(Deliverer):
        def handle(self, event_type, publisher_id, payload):
            super().handle(event_type, publisher_id, payload)
            raise OverflowError("date value out of range")

    deliverer = Broken(Disposition.ACK)
    endpoint = listener.Endpoint(deliverer)  # type: ignore
    assert (info(endpoint, "instance.heartbeat_lost")
            == oslo_messaging.NotificationResult.HANDLED)
    [record] = caplog.records
    assert "will not come back" in record.getMessage()
    assert record.exc_info is not None


def test_only_our_event_types_pass_the_filter():
    screen = listener.Endpoint.filter_rule
    for ours in ("instance.heartbeat_lost", "instance.heartbeat_restored",
                 "instance.health_check_failed",
                 "instance.recovery_requested"):
        assert screen.match({}, "p", ours, {}, {})
    for other in ("instance.update", "instance.heartbeat_lost.x",
                  "xinstance.heartbeat_lost", "instance.heartbeat_lostx"):
        assert not screen.match({}, "p", other, {}, {})


def test_connection_from_the_masakari_group(tmp_path):
    path = tmp_path / "bridge.conf"
    path.write_text("[masakari]\nauth_type = none\n"
                    "endpoint = http://masakari:15868/v1\n"
                    "endpoint_override = http://masakari:15868/v1\n"
                    "region_name = RegionTwo\n")
    conf = cfg.ConfigOpts()
    bridge_conf.register_opts(conf)
    masakari_client.register_opts(conf)
    conf(["--config-file", str(path)])
    connection = bridge.connect(conf)
    assert connection.config.get_endpoint("instance-ha") == (
        "http://masakari:15868/v1")
    assert connection.config.get_region_name("instance-ha") == "RegionTwo"
