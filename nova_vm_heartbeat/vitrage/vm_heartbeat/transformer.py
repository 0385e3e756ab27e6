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

"""The ``vm_heartbeat`` transformer: an alarm vertex on the instance vertex.

The alarm is keyed by the instance, so every verdict about an instance
updates the same vertex (its name, severity and fault class change with
the verdict) and a restored verdict deletes it. Its neighbour is the
``nova.instance`` vertex of the same uuid, which Vitrage's Nova
datasource owns; if that is not known yet, Vitrage keeps a placeholder
that becomes the instance when Nova reports it.
"""

from __future__ import annotations

import typing

from vitrage.common.constants import DatasourceProperties as DSProps
from vitrage.common.constants import EdgeLabel
from vitrage.common.constants import EntityCategory
from vitrage.common.constants import VertexProperties as VProps
from vitrage.datasources.alarm_transformer_base import AlarmTransformerBase
from vitrage.datasources.nova.instance import NOVA_INSTANCE_DATASOURCE
from vitrage.datasources import transformer_base as tbase
from vitrage.graph import utils as graph_utils

from nova_vm_heartbeat.monitor import verdicts as vd
from nova_vm_heartbeat.vitrage.vm_heartbeat import properties as props
from nova_vm_heartbeat.vitrage.vm_heartbeat import VM_HEARTBEAT_DATASOURCE

Event = typing.Dict[str, typing.Any]

#: Vertex properties copied from the event.
_DETAILS = (props.INSTANCE_ID, props.HOST, props.VERDICT, props.FAULT_CLASS,
            props.REASON, props.VERDICT_ID, props.EPISODE)


class VmHeartbeatTransformer(AlarmTransformerBase):  # type: ignore[misc]
    """Builds the alarm vertex and its ``on`` edge to the instance."""

    def _create_snapshot_entity_vertex(self, entity_event: Event) -> object:
        return self._create_alarm_vertex(entity_event)

    def _create_update_entity_vertex(self, entity_event: Event) -> object:
        return self._create_alarm_vertex(entity_event)

    def _create_alarm_vertex(self, entity_event: Event) -> object:
        metadata = {key: entity_event[key] for key in _DETAILS}
        metadata[VProps.NAME] = props.ALARM_NAMES[
            vd.VerdictKind(entity_event[props.VERDICT])]
        metadata[VProps.SEVERITY] = entity_event[props.SEVERITY]
        return graph_utils.create_vertex(
            self._create_entity_key(entity_event),
            vitrage_category=EntityCategory.ALARM,
            vitrage_type=entity_event[DSProps.ENTITY_TYPE],
            vitrage_sample_timestamp=entity_event[DSProps.SAMPLE_DATE],
            entity_state=self._get_alarm_state(entity_event),
            update_timestamp=entity_event[props.GENERATED_AT],
            metadata=metadata)

    def _create_snapshot_neighbors(self, entity_event: Event
                                   ) -> typing.List[object]:
        return self._create_update_neighbors(entity_event)

    def _create_update_neighbors(self, entity_event: Event
                                 ) -> typing.List[object]:
        return [self._create_neighbor(
            entity_event, entity_event[props.INSTANCE_ID],
            NOVA_INSTANCE_DATASOURCE, EdgeLabel.ON,
            neighbor_category=EntityCategory.RESOURCE)]

    def _create_entity_key(self, entity_event: Event) -> str:
        return str(tbase.build_key((EntityCategory.ALARM,
                                    VM_HEARTBEAT_DATASOURCE,
                                    entity_event[props.INSTANCE_ID])))

    def _ok_status(self, entity_event: Event) -> bool:
        return bool(entity_event and entity_event.get(props.VERDICT) ==
                    vd.VerdictKind.HEARTBEAT_RESTORED.value)

    def get_vitrage_type(self) -> str:
        return VM_HEARTBEAT_DATASOURCE
