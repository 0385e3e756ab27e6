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

"""Masakari's answers, as the bridge understands them."""

from __future__ import annotations

import types
import typing

from keystoneauth1 import exceptions as ks_exc
from openstack import exceptions as sdk_exc
import pytest

from nova_vm_heartbeat.masakari import client as mc
from nova_vm_heartbeat.masakari.request import VmNotification

NOTE = VmNotification("compute-1", "2026-11-21T18:30:05",
                      "8c1b2f4e-49d5-4a0a-9f3b-2b8f0c0a7e11")


class Proxy:
    """openstacksdk's instance-ha proxy, answering from a script."""

    def __init__(self, answers: typing.List[object]):
        self.answers = answers
        self.sent: typing.List[typing.Dict[str, typing.Any]] = []

    def create_notification(self, **attrs: typing.Any) -> object:
        self.sent.append(attrs)
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer


class Connections:
    def __init__(self, proxy: Proxy):
        self.made = 0
        self.proxy = proxy

    def __call__(self) -> typing.Any:
        self.made += 1
        return types.SimpleNamespace(instance_ha=self.proxy)


def http(cls, status, details):
    return cls(message="%d" % status, details=details, http_status=status)


def send(*answers):
    connections = Connections(Proxy(list(answers)))
    client = mc.MasakariClient(connections)
    results = [client.send(NOTE) for _ in answers]
    return results, connections


def test_accepted():
    [answer], connections = send(types.SimpleNamespace(
        notification_uuid="n-1"))
    assert answer == mc.Answer(mc.Outcome.ACCEPTED, status=202,
                               notification_uuid="n-1")
    assert answer.final
    assert connections.proxy.sent == [NOTE.attrs()]


@pytest.mark.parametrize("error, outcome", [
    (http(sdk_exc.ConflictException, 409, "Notification received from host "
          "compute-1 of type VM is duplicate."), mc.Outcome.DUPLICATE),
    (http(sdk_exc.ConflictException, 409, "Notification received from host "
          "compute-1 of type 'VM' is ignored as the host is already under "
          "maintenance."), mc.Outcome.HOST_IN_MAINTENANCE),
    (http(sdk_exc.BadRequestException, 400,
          "Host with name compute-1 could not be found."),
     mc.Outcome.REJECTED),
])
def test_final_answers(error, outcome):
    [answer], _ = send(error)
    assert answer.outcome is outcome and answer.final
    assert answer.detail == error.details


@pytest.mark.parametrize("error, status", [
    (http(sdk_exc.HttpException, 503, "busy"), 503),
    (http(sdk_exc.HttpException, 500, "oops"), 500),
    (http(sdk_exc.ForbiddenException, 403, "policy"), 403),
    (ks_exc.ConnectFailure("refused"), None),
    (ks_exc.DiscoveryFailure("no version document"), None),
    (ks_exc.Unauthorized("The request you have made requires "
                         "authentication.", http_status=401), 401),
])
def test_retryable_answers(error, status):
    [answer], _ = send(error)
    assert answer.outcome is mc.Outcome.UNAVAILABLE and not answer.final
    assert answer.status == status


def test_hints_say_what_to_fix():
    assert "segment" in mc.Answer(mc.Outcome.REJECTED, status=400).hint
    assert "admin" in mc.Answer(mc.Outcome.UNAVAILABLE, status=403).hint
    assert "masakari-api" in mc.Answer(mc.Outcome.UNAVAILABLE).hint
    assert mc.Answer(mc.Outcome.UNAVAILABLE, status=503).hint == ""


def test_connection_made_again_after_a_connection_error():
    accepted = types.SimpleNamespace(notification_uuid="n")
    answers, connections = send(ks_exc.ConnectFailure("refused"), accepted,
                                accepted)
    assert [a.outcome for a in answers] == [
        mc.Outcome.UNAVAILABLE, mc.Outcome.ACCEPTED, mc.Outcome.ACCEPTED]
    assert connections.made == 2
