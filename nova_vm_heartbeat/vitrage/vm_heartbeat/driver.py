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

"""The ``vm_heartbeat`` driver: our notifications in, alarm events out.

A push datasource: Vitrage's notification listener hands the payload of
every message whose event type :meth:`VmHeartbeatDriver.get_event_types`
lists to :meth:`VmHeartbeatDriver.enrich_event`. There is nothing to poll:
the monitors publish every change, and vitrage-graph restores the alarms
it had from its own graph snapshot when it restarts.
"""

from __future__ import annotations

import logging
import typing

from vitrage.common.constants import DatasourceAction
from vitrage.datasources.alarm_driver_base import AlarmDriverBase
from vitrage.utils import datetime as vitrage_datetime

from nova_vm_heartbeat.notifications import received
from nova_vm_heartbeat.vitrage.vm_heartbeat import properties as props
from nova_vm_heartbeat.vitrage.vm_heartbeat import VM_HEARTBEAT_DATASOURCE

LOG = logging.getLogger(__name__)

Event = typing.Dict[str, typing.Any]


class VmHeartbeatDriver(AlarmDriverBase):  # type: ignore[misc]
    """One alarm per instance, raised, updated and cleared by verdicts.

    The cache (``AlarmDriverBase.cache``, by instance) holds the last
    verdict seen for each instance, so that a redelivered or overtaken
    message changes nothing.
    """

    def _vitrage_type(self) -> str:
        return VM_HEARTBEAT_DATASOURCE

    def _alarm_key(self, alarm: Event) -> str:
        return str(alarm[props.INSTANCE_ID])

    def get_all(self, datasource_action: str) -> typing.List[Event]:
        return list(self.make_pickleable([], VM_HEARTBEAT_DATASOURCE,
                                         datasource_action))

    def get_changes(self, datasource_action: str) -> typing.List[Event]:
        return self.get_all(datasource_action)

    @staticmethod
    def get_event_types() -> typing.List[str]:
        return sorted(received.EVENT_TYPES)

    def enrich_event(self, event: typing.Any,
                     event_type: str) -> typing.Optional[Event]:
        """The alarm event for one notification payload, or None."""
        try:
            report = received.parse(event_type, event)
        except received.MalformedNotification as err:
            LOG.warning("%(err)s", {"err": err})
            return None
        alarm = props.alarm(report)
        if not props.is_newer(alarm, self._old_alarm(alarm)):
            LOG.debug("Ignoring %(verdict)s for instance %(uuid)s: not "
                      "newer than the last verdict",
                      {"verdict": report.verdict_id,
                       "uuid": report.instance_uuid})
            return None
        self.cache[self._alarm_key(alarm)] = (
            alarm, vitrage_datetime.utcnow(False))
        enriched: Event = self.make_pickleable(
            [dict(alarm)], VM_HEARTBEAT_DATASOURCE,
            DatasourceAction.UPDATE)[0]
        return enriched
