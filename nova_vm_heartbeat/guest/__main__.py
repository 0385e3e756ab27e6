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

"""``python3 -m nova_vm_heartbeat.guest``: the ``nova-vm-heartbeat-guest``
command."""

from __future__ import annotations

import sys

from nova_vm_heartbeat.guest import cli

if __name__ == "__main__":
    sys.exit(cli.main())
