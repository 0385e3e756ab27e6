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

"""Verdicts published as the monitor publishes them.

The notifications are built by ``notifications.payload.build`` and sent
by the real messaging sink, so the consumers read exactly what a monitor
puts on the wire.
"""

from __future__ import annotations

import datetime
import pathlib
import typing
import uuid

from oslo_config import cfg

from nova_vm_heartbeat import conf as heartbeat_conf
from nova_vm_heartbeat.monitor import verdicts as vd
from nova_vm_heartbeat.notifications import payload
from nova_vm_heartbeat.sinks import impl_messaging

KIND_OF = {
    vd.FaultClass.AGENT_FAILURE: vd.VerdictKind.HEARTBEAT_LOST,
    vd.FaultClass.GUEST_HUNG: vd.VerdictKind.HEARTBEAT_LOST,
    vd.FaultClass.GUEST_CRASHED: vd.VerdictKind.HEARTBEAT_LOST,
    vd.FaultClass.VM_FROZEN: vd.VerdictKind.HEARTBEAT_LOST,
    vd.FaultClass.APP_UNHEALTHY: vd.VerdictKind.HEALTH_CHECK_FAILED,
    vd.FaultClass.GUEST_REQUESTED: vd.VerdictKind.RECOVERY_REQUESTED,
}


def notification(instance_uuid: str, fault: vd.FaultClass,
                 host: str = "compute-1", episode: int = 1,
                 restored: bool = False, age: float = 0.0
                 ) -> typing.Tuple[payload.Notification, datetime.datetime]:
    """The notification of one verdict, and when it was made.

    :param age: how many seconds ago it was made.
    """
    kind = vd.VerdictKind.HEARTBEAT_RESTORED if restored else KIND_OF[fault]
    verdict = vd.Verdict(
        kind=kind, fault_class=fault,
        severity=vd.Severity.OK if restored else vd.SEVERITIES[fault],
        episode=episode, reason=vd.REASONS[(kind, fault)], missed=3,
        channels=("heartbeat", "qga"))
    now = (datetime.datetime.now(datetime.timezone.utc)
           - datetime.timedelta(seconds=age))
    built = payload.build(
        verdict, payload.Identity(instance_uuid, host, "vm-" + fault.value),
        "HEALTHY" if restored else "FAILED", now, uuid.uuid4().hex)
    return built, now


class Publisher:
    """The messaging sink of a monitor, on the test's topics."""

    def __init__(self, workdir: pathlib.Path, transport_url: str,
                 topics: typing.Sequence[str]):
        impl_messaging.set_defaults()
        path = workdir / "publisher.conf"
        path.write_text("\n".join([
            "[DEFAULT]", "transport_url = %s" % transport_url,
            "[heartbeat_sink]", "topics = %s" % ",".join(topics),
            "outbox_dir = %s" % (workdir / "outbox"), ""]))
        conf = cfg.ConfigOpts()
        heartbeat_conf.register_opts(conf)
        conf(["--config-file", str(path)])
        self.sink = impl_messaging.MessagingSink(conf)

    def __enter__(self) -> Publisher:
        self.sink.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.sink.stop()

    def publish(self, note: payload.Notification) -> None:
        self.sink.send(note)
