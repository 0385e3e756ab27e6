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

"""The fake ``libvirt_qemu`` of :class:`tests.fakelibvirt.FakeLibvirt`.

``qemuAgentCommand`` answers as the domain's scripted guest agent
(:class:`tests.fakelibvirt.Qga`) says: echo the sync id, hang until the
timeout, raise a given libvirt error, make the domain vanish mid-call,
answer with a wrong id or with garbage.
"""

from __future__ import annotations

import json
import typing

from tests.fakelibvirt import C
from tests.fakelibvirt import Daemon
from tests.fakelibvirt import Domain
from tests.fakelibvirt import libvirtError
from tests.fakelibvirt import unwrap


class FakeLibvirtQemu:
    """Stands in for ``libvirt_qemu``."""

    VIR_DOMAIN_QEMU_AGENT_COMMAND_BLOCK = -2
    VIR_DOMAIN_QEMU_AGENT_COMMAND_DEFAULT = -1
    VIR_DOMAIN_QEMU_AGENT_COMMAND_NOWAIT = 0

    def __init__(self, daemon: Daemon):
        self._daemon = daemon

    def qemuAgentCommand(self, handle: typing.Any, command: str,
                         timeout: int, flags: int) -> str:
        self._daemon.check()
        domain, conn = unwrap(handle)
        if conn is not None:
            conn._check()  # the handle's connection broke
        qga = domain.qga
        qga.calls += 1
        qga.timeouts.append(timeout)
        if domain.uuid not in self._daemon.domains:
            raise libvirtError("Domain not found", C.VIR_ERR_NO_DOMAIN)
        if domain.run_state != C.VIR_DOMAIN_RUNNING:
            raise libvirtError("Requested operation is not valid: domain is "
                               "not running", C.VIR_ERR_OPERATION_INVALID)
        if qga.delay:
            self._daemon.release.wait(qga.delay)
        with domain.waiting_for_qemu(conn):
            return _BEHAVIOURS[qga.mode](self._daemon, domain, command,
                                         timeout)


def _answer(daemon: Daemon, domain: Domain, command: str,
            timeout: int) -> str:
    request = json.loads(command)
    if request["execute"] == "guest-sync":
        return json.dumps({"return": request["arguments"]["id"]})
    if request["execute"] == "guest-sync-delimited":
        # Real libvirt (9.0) cannot decode the 0xFF-prefixed reply: the
        # command fails, and so does every later one (the agent is
        # marked broken). The fake fails this one loudly.
        raise libvirtError("Guest agent is not responding: QEMU guest "
                           "agent is not available due to an error",
                           C.VIR_ERR_AGENT_UNRESPONSIVE)
    return json.dumps({"return": {}})


def _hang(daemon: Daemon, domain: Domain, command: str, timeout: int) -> str:
    daemon.release.wait(timeout)
    raise libvirtError("Guest agent is not responding: Guest agent not "
                       "available for now", C.VIR_ERR_AGENT_UNRESPONSIVE)


def _error(daemon: Daemon, domain: Domain, command: str,
           timeout: int) -> str:
    raise libvirtError(domain.qga.message, domain.qga.code)


def _vanish(daemon: Daemon, domain: Domain, command: str,
            timeout: int) -> str:
    with daemon.lock:
        daemon.domains.pop(domain.uuid, None)
    domain.run_state = C.VIR_DOMAIN_SHUTOFF
    raise libvirtError("Domain not found: no domain with matching uuid "
                       "'%s'" % domain.uuid, C.VIR_ERR_NO_DOMAIN)


def _wrong_id(daemon: Daemon, domain: Domain, command: str,
              timeout: int) -> str:
    request = json.loads(command)
    return json.dumps({"return": request["arguments"]["id"] + 1})


def _garbage(daemon: Daemon, domain: Domain, command: str,
             timeout: int) -> str:
    return "\xff not json at all"


_BEHAVIOURS = {"answer": _answer, "hang": _hang, "error": _error,
               "vanish": _vanish, "wrong_id": _wrong_id,
               "garbage": _garbage}
