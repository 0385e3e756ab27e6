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

"""Vitrage datasources of nova-vm-heartbeat.

Vitrage loads a datasource by name from the packages listed in
``[datasources] path``: list this package there and ``vm_heartbeat`` in
``[datasources] types``, and vitrage-graph imports
``nova_vm_heartbeat.vitrage.vm_heartbeat`` for its options, driver and
transformer. Vitrage was retired upstream in 2026; 15.0.1 is its last
release and the one this datasource is written and tested against.
"""
