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

"""Nova's API refuses a bad hw:heartbeat* extra spec, and says why.

Nova's message names the value and the reason, not the key: "Validation
failed; '0' is less than the min value of 1".

Needs our validators on the nova-api hosts (entry point
``nova.api.extra_spec_validators``) and microversion 2.86 or later.
"""

from __future__ import annotations

from tempest.lib.common.utils import data_utils
from tempest.lib import decorators
from tempest.lib import exceptions as lib_exc

from nova_vm_heartbeat_tempest_plugin.tests.scenario import base


class FlavorValidationTest(base.HeartbeatScenarioTest):

    compute_microversion = "2.86"

    @decorators.idempotent_id("8d63897b-0073-40f5-af7d-42578f2c805b")
    def test_bad_heartbeat_extra_specs_are_refused(self) -> None:
        flavor = self.admin_flavors_client.create_flavor(
            name=data_utils.rand_name("nvh-bad"), ram=64, vcpus=1,
            disk=0)["flavor"]
        self.addCleanup(self.admin_flavors_client.delete_flavor,
                        flavor["id"])
        for key, value, why in (
                ("hw:heartbeat", "maybe", "not a valid boolean-like value"),
                ("hw:heartbeat_interval", "0", "less than the min value"),
                ("hw:heartbeat_failure_threshold", "many",
                 "not a valid integer value")):
            with self.subTest(key=key, value=value):
                err = self.assertRaises(
                    lib_exc.BadRequest,
                    self.admin_flavors_client.set_flavor_extra_spec,
                    flavor["id"], **{key: value})
                self.assertIn("Validation failed; '%s' is %s" % (value, why),
                              str(err))
        specs = self.admin_flavors_client.list_flavor_extra_specs(
            flavor["id"])["extra_specs"]
        self.assertEqual({}, specs)
        self.admin_flavors_client.set_flavor_extra_spec(
            flavor["id"], **{"hw:heartbeat": "true",
                             "hw:heartbeat_interval": "5"})
