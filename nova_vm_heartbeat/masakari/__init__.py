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

"""The Masakari bridge: heartbeat verdicts in, Masakari VM notifications out.

Masakari reads only its REST API, never the message bus, and recovers a
VM only for the notification masakari-monitors' introspective monitor
sends (event ``QEMU_GUEST_AGENT_ERROR``, ``vir_domain_event``
``STOPPED_FAILED``). The bridge listens for our versioned notifications
in a named pool, turns the verdicts the operator selected into that
notification, and acknowledges a message only once Masakari has taken it.

``request`` decides what is sent, ``client`` talks to Masakari through
openstacksdk, ``gate`` spaces out the attempts while Masakari is away,
``delivery`` handles one message, ``listener`` is the oslo.messaging side
and ``bridge`` puts them together for ``nova-vm-heartbeat-masakari-bridge``.
"""
