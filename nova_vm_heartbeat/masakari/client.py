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

"""Masakari's notification API, through openstacksdk's instance-ha proxy.

The one adapter to Masakari: it sends a :class:`VmNotification` and
translates what comes back (an answer, an HTTP error, a connection error
from keystoneauth1) into an :class:`Answer`. It holds no policy: whether
to retry is the caller's decision, made from :attr:`Answer.final`.

Masakari's answers to ``POST /v1/notifications``:

* 202: stored, the engine is told to process it;
* 409: a duplicate (same type, host and payload within
  ``duplicate_notification_detection_interval`` of its ``generated_time``)
  or a host in maintenance; nothing more to do either way;
* 400: the host is not a Masakari host in a failover segment, or the body
  is invalid; a retry gives the same answer;
* 5xx, timeouts and connection errors: try again later.
"""

from __future__ import annotations

import dataclasses
import enum
import threading
import typing

from keystoneauth1 import exceptions as ks_exc
from openstack import connection
from openstack import exceptions as sdk_exc

from nova_vm_heartbeat.masakari.request import VmNotification

#: Makes a connection to the cloud; called again after a connection error.
ConnectionFactory = typing.Callable[[], connection.Connection]

#: What Masakari's 409 says when the host, not the notification, is the
#: reason (``HostOnMaintenanceError``).
MAINTENANCE_MARK = "under maintenance"


class Outcome(str, enum.Enum):
    """What became of one attempt."""

    ACCEPTED = "accepted"
    DUPLICATE = "duplicate"
    HOST_IN_MAINTENANCE = "host in maintenance"
    REJECTED = "rejected"
    UNAVAILABLE = "unavailable"


#: What the operator can do about an answer, by HTTP status.
HINTS: typing.Dict[typing.Optional[int], str] = {
    None: "check that masakari-api runs and that the [masakari] endpoint "
          "(catalog or endpoint_override) reaches it",
    400: "register this compute host as a Masakari host in a failover "
         "segment, under the name nova-compute uses ([DEFAULT] host), for "
         "example: openstack segment host create <host> COMPUTE SSH "
         "<segment>",
    401: "check the credentials in [masakari]",
    403: "give the [masakari] user the admin role: Masakari accepts "
         "notifications from admins only",
    404: "check the [masakari] endpoint: it must be Masakari's v1 API",
}


@dataclasses.dataclass(frozen=True)
class Answer:
    """Masakari's answer to one notification."""

    outcome: Outcome
    #: What Masakari (or the connection) said.
    detail: str = ""
    #: The HTTP status, when there was an HTTP answer.
    status: typing.Optional[int] = None
    #: The uuid of the stored notification, when accepted.
    notification_uuid: typing.Optional[str] = None

    @property
    def final(self) -> bool:
        """Whether the message is done with (no retry would change it)."""
        return self.outcome is not Outcome.UNAVAILABLE

    @property
    def hint(self) -> str:
        """What the operator can do, if anything."""
        return HINTS.get(self.status, "")


class MasakariClient:
    """Sends VM notifications to Masakari.

    The proxy is made on first use (openstacksdk asks the endpoint for its
    versions then) and made again after a connection error, so a Masakari
    that moved or restarted is found again.
    """

    def __init__(self, connect: ConnectionFactory):
        self._connect = connect
        self._lock = threading.Lock()
        self._proxy: typing.Any = None

    def send(self, notification: VmNotification) -> Answer:
        """Send one notification; safe to call from several threads."""
        try:
            return self._create(notification)
        except sdk_exc.HttpException as err:
            return _http_answer(err)
        except (sdk_exc.SDKException, ks_exc.ClientException) as err:
            with self._lock:
                self._proxy = None
            # Keystone's own refusals (a wrong password: 401) have a status.
            return Answer(Outcome.UNAVAILABLE, detail=_text(err),
                          status=getattr(err, "http_status", None))

    def _create(self, notification: VmNotification) -> Answer:
        with self._lock:
            if self._proxy is None:
                self._proxy = self._connect().instance_ha
            proxy = self._proxy
        created = proxy.create_notification(**notification.attrs())
        return Answer(Outcome.ACCEPTED, status=202,
                      notification_uuid=created.notification_uuid)


def _http_answer(err: sdk_exc.HttpException) -> Answer:
    status: typing.Optional[int] = err.status_code
    detail = _text(err.details or err)
    if status == 409:
        outcome = (Outcome.HOST_IN_MAINTENANCE if MAINTENANCE_MARK in detail
                   else Outcome.DUPLICATE)
    elif status == 400:
        outcome = Outcome.REJECTED
    else:
        outcome = Outcome.UNAVAILABLE
    return Answer(outcome, detail=detail, status=status)


def _text(value: object) -> str:
    """One line, bounded: Masakari's messages end up in our log."""
    return " ".join(str(value).split())[:512]
