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

"""Lets Nova load ``heartbeat_libvirt.HeartbeatLibvirtDriver``.

Nova imports its compute driver as ``nova.virt.<compute_driver>``, so this
one module is installed into Nova's package by nova-vm-heartbeat (and
nothing else of Nova's tree: not its ``__init__`` files). The driver
itself lives in ``nova_vm_heartbeat.virt.driver``.
"""

from nova_vm_heartbeat.virt.driver import HeartbeatLibvirtDriver

__all__ = ["HeartbeatLibvirtDriver"]
