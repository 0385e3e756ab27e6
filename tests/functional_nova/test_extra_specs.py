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

"""Flavor extra specs through the real API at the latest microversion.

From microversion 2.86 Nova refuses ``hw:`` keys it has no validator for;
our validators, installed by entry point, accept the good values and
refuse the bad ones with a 400 that says why.
"""

from __future__ import annotations

from nova.tests.functional.api import client

from tests.functional_nova import base

VALID = dict(base.HEARTBEAT_SPECS)
#: key, value, what the 400 must say (Nova's wording names the value,
#: or the key when the key itself is unknown).
INVALID = [
    ("hw:heartbeat", "maybe", "'maybe' is not a valid boolean-like value"),
    ("hw:heartbeat_panic", "perhaps",
     "'perhaps' is not a valid boolean-like value"),
    ("hw:heartbeat_interval", "0", "'0' is less than the min value of '1'"),
    ("hw:heartbeat_interval", "fast", "'fast' is not a valid integer"),
    ("hw:heartbeat_timeout", "601", "'601' is greater than the max value"),
    ("hw:heartbeat_failure_threshold", "0", "'0' is less than the min"),
    ("hw:heartbeat_boot_grace", "-5", "'-5' is less than the min value"),
    ("hw:heartbeat_bogus", "1",
     "'hw:heartbeat_bogus' does not appear to be a valid extra spec"),
]


class ExtraSpecsTest(base.HeartbeatTestBase):

    def setUp(self) -> None:
        super().setUp()
        self.assertEqual("latest", self.api.microversion)
        self.flavor_id = self._create_flavor()

    def test_valid_specs_are_accepted(self) -> None:
        self.api.post_extra_spec(self.flavor_id, {"extra_specs": VALID})
        stored = self.api.get_flavor(self.flavor_id)["extra_specs"]
        self.assertEqual(VALID, stored)

    def test_each_invalid_spec_is_refused_with_a_reason(self) -> None:
        for key, value, reason in INVALID:
            with self.subTest(key=key, value=value):
                error = self.assertRaises(
                    client.OpenStackApiException, self.api.post_extra_spec,
                    self.flavor_id, {"extra_specs": {key: value}})
                self.assertEqual(400, error.response.status_code)
                self.assertIn(reason, error.response.json()["badRequest"][
                    "message"])
        self.assertEqual({}, self.api.get_flavor(self.flavor_id)[
            "extra_specs"])
