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

"""The verdict engine: one pure state machine per monitored instance.

Standard library only, no I/O, no clock reads: adapters feed observations
(:mod:`.signals`) with the time and carry out what comes back
(:mod:`.actions`). See ``doc/source/reference/verdicts.rst``.
"""

from nova_vm_heartbeat.monitor.actions import Action
from nova_vm_heartbeat.monitor.actions import Report
from nova_vm_heartbeat.monitor.actions import SendAck
from nova_vm_heartbeat.monitor.actions import SendChallenge
from nova_vm_heartbeat.monitor.actions import SyncAgent
from nova_vm_heartbeat.monitor.machine import InstanceMonitor
from nova_vm_heartbeat.monitor.machine import MonitorState
from nova_vm_heartbeat.monitor.policy import Bounds
from nova_vm_heartbeat.monitor.policy import Settings
from nova_vm_heartbeat.monitor.status import ChannelStatus
from nova_vm_heartbeat.monitor.status import Status
from nova_vm_heartbeat.monitor.verdicts import FaultClass
from nova_vm_heartbeat.monitor.verdicts import Severity
from nova_vm_heartbeat.monitor.verdicts import Verdict
from nova_vm_heartbeat.monitor.verdicts import VerdictKind

__all__ = [
    "Action", "Bounds", "ChannelStatus", "FaultClass", "InstanceMonitor",
    "MonitorState", "Report", "SendAck", "SendChallenge", "Settings",
    "Severity", "Status", "SyncAgent", "Verdict", "VerdictKind",
]
