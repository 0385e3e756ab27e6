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

"""What a libvirt error means for the heartbeat: the one place that says.

libvirt raises ``libvirtError`` for everything; :func:`classify` turns
one into a :class:`nova_vm_heartbeat.monitor.signals.AgentError`, which
the monitor's policy understands. Codes are looked up by name on the
libvirt module the runtime was given (the real one or a test double), so
a libvirt too old to know a code simply never raises it.

The codes (``virErrorNumber`` in ``include/libvirt/virterror.h``) and
the messages the QEMU driver raises them with:

* ``VIR_ERR_INTERNAL_ERROR`` (1): "client socket is closed" (libvirtd
  went away); "unable to execute QEMU agent command" (the agent answered
  with an error, before ``VIR_ERR_AGENT_COMMAND_FAILED`` existed).
* ``VIR_ERR_NO_CONNECT`` (5), ``VIR_ERR_INVALID_CONN`` (6),
  ``VIR_ERR_SYSTEM_ERROR`` (38, "Cannot write data: Broken pipe"),
  ``VIR_ERR_RPC`` (39): the connection to libvirtd is broken.
* ``VIR_ERR_NO_DOMAIN`` (42): the domain is gone.
* ``VIR_ERR_OPERATION_INVALID`` (55): "domain is not running".
* ``VIR_ERR_OPERATION_TIMEOUT`` (68): "cannot acquire state change lock
  (held by ...)": another job (Nova's quiesce, a password change) holds
  the domain or its agent.
* ``VIR_ERR_ARGUMENT_UNSUPPORTED`` (74): "QEMU guest agent is not
  configured" (the domain has no agent channel).
* ``VIR_ERR_AGENT_UNRESPONSIVE`` (86): "QEMU guest agent is not
  connected" (the guest has not opened its port), "Guest agent not
  available for now" (the agent did not answer in time), "Guest agent
  disappeared while executing command".
* ``VIR_ERR_RESOURCE_BUSY`` (87): the resource is in use.
* ``VIR_ERR_AGENT_UNSYNCED`` (97): the agent answered ``guest-sync``
  with a wrong id.
* ``VIR_ERR_AGENT_COMMAND_TIMEOUT`` (112) and
  ``VIR_ERR_AGENT_COMMAND_FAILED`` (113), in newer libvirt: the agent did
  not answer the command in time; it answered with an error.
"""

from __future__ import annotations

import typing

from nova_vm_heartbeat.monitor.signals import AgentError

#: libvirt error code names that mean the connection to libvirtd broke.
_CONNECTION_CODES = ("VIR_ERR_NO_CONNECT", "VIR_ERR_INVALID_CONN",
                     "VIR_ERR_SYSTEM_ERROR", "VIR_ERR_RPC")
#: Messages of other codes that mean the same.
_CONNECTION_MESSAGES = ("client socket is closed", "connection closed",
                        "broken pipe", "end of file while reading")

#: code name -> what it means, when the message does not matter.
_BY_CODE = {
    "VIR_ERR_AGENT_UNSYNCED": AgentError.UNRESPONSIVE,
    "VIR_ERR_AGENT_COMMAND_TIMEOUT": AgentError.UNRESPONSIVE,
    # The agent answered, with an error: alive, but not a proof of life.
    "VIR_ERR_AGENT_COMMAND_FAILED": AgentError.BUSY,
    "VIR_ERR_OPERATION_TIMEOUT": AgentError.BUSY,
    "VIR_ERR_RESOURCE_BUSY": AgentError.BUSY,
    "VIR_ERR_NO_DOMAIN": AgentError.DOMAIN_NOT_RUNNING,
}


def _code(libvirt: typing.Any, name: str) -> typing.Optional[int]:
    value = getattr(libvirt, name, None)
    return value if isinstance(value, int) else None


def _message(err: BaseException) -> str:
    getter = getattr(err, "get_error_message", None)
    message = getter() if callable(getter) else None
    return str(message or err).lower()


def error_code(err: BaseException) -> typing.Optional[int]:
    getter = getattr(err, "get_error_code", None)
    code = getter() if callable(getter) else None
    return code if isinstance(code, int) else None


def _is(libvirt: typing.Any, code: typing.Optional[int], name: str) -> bool:
    return code is not None and code == _code(libvirt, name)


def is_connection_error(libvirt: typing.Any, err: BaseException) -> bool:
    """Whether ``err`` says that the connection to libvirtd is broken."""
    code = error_code(err)
    if any(_is(libvirt, code, name) for name in _CONNECTION_CODES):
        return True
    message = _message(err)
    return any(text in message for text in _CONNECTION_MESSAGES)


def classify(libvirt: typing.Any, err: BaseException) -> AgentError:
    """What a failed QGA command means for the monitor."""
    code = error_code(err)
    message = _message(err)
    if _is(libvirt, code, "VIR_ERR_AGENT_UNRESPONSIVE"):
        if "not connected" in message:
            return AgentError.NOT_CONNECTED
        return AgentError.UNRESPONSIVE
    for name, meaning in _BY_CODE.items():
        if _is(libvirt, code, name):
            return meaning
    if _is(libvirt, code, "VIR_ERR_OPERATION_INVALID") \
            and "not running" in message:
        return AgentError.DOMAIN_NOT_RUNNING
    if _is(libvirt, code, "VIR_ERR_INTERNAL_ERROR") \
            and "unable to execute qemu agent command" in message:
        return AgentError.BUSY
    return AgentError.HOST_ERROR
