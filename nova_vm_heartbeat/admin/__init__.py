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

"""The monitor's local admin endpoint, and its client.

The monitor (standalone or inside nova-compute) serves a UNIX socket that
only its owner and one group (``nova`` by default) may connect to. A
client sends one JSON object on one line and reads one JSON object on one
line back; :mod:`.wire` defines both, :mod:`.server` serves them on a
thread of its own, and :mod:`.client` is what ``nova-vm-heartbeat
status`` uses.
"""
