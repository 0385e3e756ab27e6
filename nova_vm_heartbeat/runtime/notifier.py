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

"""Verdicts to notifications, handed to the sink."""

from __future__ import annotations

import datetime
import logging
import time
import typing
import uuid as uuidlib

from nova_vm_heartbeat.common.log_throttle import LogThrottle
from nova_vm_heartbeat.monitor import verdicts as vd
from nova_vm_heartbeat.notifications import payload
from nova_vm_heartbeat.sinks.base import Sink

LOG = logging.getLogger(__name__)

_LEVELS = {
    vd.Severity.OK: logging.INFO,
    vd.Severity.WARNING: logging.WARNING,
    vd.Severity.MAJOR: logging.WARNING,
    vd.Severity.CRITICAL: logging.ERROR,
}


def utcnow() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc)


class Notifier:
    """Builds each verdict's notification and gives it to the sink."""

    def __init__(self, sink: Sink, host: str,
                 wallclock: typing.Callable[[], datetime.datetime] = utcnow,
                 clock: typing.Callable[[], float] = time.monotonic):
        self.sink = sink
        self.clock = clock
        self.host = host
        self.wallclock = wallclock
        #: Notifications handed to the sink.
        self.sent = 0
        self._errors = LogThrottle(60.0)

    def report(self, instance_uuid: str, display_name: str,
               verdict: vd.Verdict, state: str) -> None:
        identity = payload.Identity(instance_uuid, self.host, display_name)
        notification = payload.build(
            verdict, identity, state, self.wallclock(),
            verdict.verdict_id or str(uuidlib.uuid4()))
        LOG.log(_LEVELS[verdict.severity],
                "Instance %(uuid)s: %(event)s, %(fault)s (episode "
                "%(episode)d): %(reason)s", {
                    "uuid": instance_uuid, "event": verdict.kind.value,
                    "fault": verdict.fault_class.value,
                    "episode": verdict.episode, "reason": verdict.reason})
        try:
            self.sink.send(notification)
        except Exception:
            held = self._errors.allow(self.clock())
            if held is not None:
                LOG.exception("The notification sink failed to take a "
                              "notification; it is lost (%(held)d more "
                              "since the last report)", {"held": held})
            return
        self.sent += 1
