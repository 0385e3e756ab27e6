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

"""A tempest service client for Masakari's API (service type instance-ha).

Only what the scenario tests read: notifications, segments and hosts.
Listing notifications needs the admin role (Masakari's policy).
"""

from __future__ import annotations

import typing

from oslo_serialization import jsonutils
from tempest.lib.common import rest_client


class InstanceHaClient(rest_client.RestClient):  # type: ignore[misc]
    """Masakari API v1: the catalog's endpoint ends in ``/v1``."""

    def _get(self, url: str) -> typing.Any:
        resp, body = self.get(url)
        self.expected_success(200, resp.status)
        return rest_client.ResponseBody(resp, jsonutils.loads(body))

    def list_notifications(self, **params: str) -> typing.Any:
        query = "&".join("%s=%s" % item for item in sorted(params.items()))
        return self._get("notifications" + ("?" + query if query else ""))

    def show_notification(self, notification_uuid: str) -> typing.Any:
        return self._get("notifications/%s" % notification_uuid)

    def list_segments(self) -> typing.Any:
        return self._get("segments")

    def list_hosts(self, segment_uuid: str) -> typing.Any:
        return self._get("segments/%s/hosts" % segment_uuid)
