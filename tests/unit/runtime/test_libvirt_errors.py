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

"""Every libvirt error the QGA path can meet, classified in one place."""

from __future__ import annotations

import pytest

from nova_vm_heartbeat.monitor.signals import AgentError as E
from nova_vm_heartbeat.runtime import libvirt_errors
from tests.fakelibvirt import C
from tests.fakelibvirt import FakeLibvirt
from tests.fakelibvirt import libvirtError

LIBVIRT = FakeLibvirt()

CASES = [
    (C.VIR_ERR_AGENT_UNRESPONSIVE, "Guest agent is not responding: QEMU "
     "guest agent is not connected", E.NOT_CONNECTED),
    (C.VIR_ERR_AGENT_UNRESPONSIVE, "Guest agent is not responding: Guest "
     "agent not available for now", E.UNRESPONSIVE),
    (C.VIR_ERR_AGENT_UNRESPONSIVE, "Guest agent is not responding: QEMU "
     "guest agent is not available due to an error", E.UNRESPONSIVE),
    (C.VIR_ERR_AGENT_UNSYNCED, "guest agent replied with wrong id to "
     "guest-sync", E.UNRESPONSIVE),
    (C.VIR_ERR_AGENT_COMMAND_TIMEOUT, "guest agent command timed out: Guest "
     "agent disappeared while executing command", E.UNRESPONSIVE),
    (C.VIR_ERR_AGENT_COMMAND_FAILED, "guest agent command failed: the "
     "agent is in frozen state", E.BUSY),
    (C.VIR_ERR_INTERNAL_ERROR, "internal error: unable to execute QEMU "
     "agent command 'guest-sync-delimited': Command disabled", E.BUSY),
    (C.VIR_ERR_OPERATION_TIMEOUT, "Timed out during operation: cannot "
     "acquire state change lock (held by agent=remoteDispatchDomainFSFreeze)",
     E.BUSY),
    (C.VIR_ERR_OPERATION_INVALID, "Requested operation is not valid: "
     "domain is not running", E.DOMAIN_NOT_RUNNING),
    (C.VIR_ERR_NO_DOMAIN, "Domain not found: no domain with matching uuid "
     "'x'", E.DOMAIN_NOT_RUNNING),
    (C.VIR_ERR_INTERNAL_ERROR, "internal error: client socket is closed",
     E.HOST_ERROR),
    (C.VIR_ERR_SYSTEM_ERROR, "Cannot write data: Broken pipe", E.HOST_ERROR),
    (C.VIR_ERR_NO_CONNECT, "no connection driver available",
     E.HOST_ERROR),
    (C.VIR_ERR_OPERATION_INVALID, "Requested operation is not valid: "
     "something else", E.HOST_ERROR),
    (C.VIR_ERR_ARGUMENT_UNSUPPORTED, "QEMU guest agent is not configured",
     E.HOST_ERROR),
    (999, "a code from the future", E.HOST_ERROR),
]


@pytest.mark.parametrize("code,message,expected", CASES)
def test_classify(code: int, message: str, expected: E) -> None:
    err = libvirtError(message, code)
    assert libvirt_errors.classify(LIBVIRT, err) is expected


@pytest.mark.parametrize("code,message,broken", [
    (C.VIR_ERR_INTERNAL_ERROR, "internal error: client socket is closed",
     True),
    (C.VIR_ERR_SYSTEM_ERROR, "Cannot write data: Broken pipe", True),
    (C.VIR_ERR_NO_CONNECT, "", True),
    (C.VIR_ERR_INVALID_CONN, "", True),
    (C.VIR_ERR_RPC, "", True),
    (C.VIR_ERR_NO_DOMAIN, "Domain not found", False),
    (C.VIR_ERR_AGENT_UNRESPONSIVE, "Guest agent not available for now",
     False),
])
def test_connection_errors(code: int, message: str, broken: bool) -> None:
    err = libvirtError(message, code)
    assert libvirt_errors.is_connection_error(LIBVIRT, err) is broken


class OldLibvirt:
    """A libvirt that predates the agent command codes."""

    VIR_ERR_INTERNAL_ERROR = 1
    VIR_ERR_AGENT_UNRESPONSIVE = 86


def test_codes_unknown_to_an_old_libvirt_are_host_errors() -> None:
    err = libvirtError("guest agent command timed out", 112)
    assert libvirt_errors.classify(OldLibvirt(), err) is E.HOST_ERROR
    err = libvirtError("QEMU guest agent is not connected", 86)
    assert libvirt_errors.classify(OldLibvirt(), err) is E.NOT_CONNECTED


def test_errors_without_a_code_are_host_errors() -> None:
    assert libvirt_errors.classify(LIBVIRT, RuntimeError("?")) \
        is E.HOST_ERROR
    assert libvirt_errors.error_code(RuntimeError("?")) is None
