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

"""Small helpers shared by the host side and the guest agent.

Standard library only, like :mod:`nova_vm_heartbeat.protocol`, so the
guest agent (which imports only the standard library and ``protocol``)
may use them too. Nothing here is about the wire protocol: it is what
both sides of it need and would otherwise write twice.
"""
