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

"""The Nova tier: Nova's own in-process functional harness, with our driver.

It runs under stestr (pytest breaks Nova's TestCases), in Nova's default
threading mode and in eventlet mode, chosen by the environment variable
``OS_NOVA_DISABLE_EVENTLET_PATCHING`` (``1``: threads, ``0``: eventlet).
Nova must choose and patch before anything imports it, hence the first
line, as in ``nova/tests/functional/__init__.py``.
"""

from nova import monkey_patch; monkey_patch.patch()  # noqa: E702,H306
