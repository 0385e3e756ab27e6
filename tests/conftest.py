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

"""Test-suite wide set-up shared by every tier.

Hypothesis profiles, chosen with the ``HYPOTHESIS_PROFILE`` environment
variable:

``dev`` (the default)
    a quick run for the edit-test loop. No deadline either: on a loaded
    machine a fuzz example that feeds a long stream one byte at a time
    took more than Hypothesis's default 200 ms and failed the run at
    random. The cost of the codec is checked by ``test_adversarial``.
``ci``
    what ``tools/test.sh`` and tox use: many more examples, no deadline
    (shared CI machines have noisy timings), and a reproduction blob
    printed with every failure.
"""

from __future__ import annotations

import os

import hypothesis

hypothesis.settings.register_profile("dev", max_examples=200, deadline=None)
hypothesis.settings.register_profile(
    "ci",
    max_examples=3000,
    deadline=None,
    derandomize=False,
    print_blob=True,
)
hypothesis.settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))
