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

"""Test guests on the real hypervisor, driven through libvirt-python.

:class:`Guest` defines and starts a domain from a
:class:`~tests.functional.hypervisor.domains.DomainSpec`, runs QEMU guest
agent commands (``guest-ping``, ``guest-exec``...) through libvirt as the
monitor does, and always goes away: :meth:`Guest.remove` destroys and
undefines the domain whatever state it is in. Every wait has a deadline.

libvirt is imported lazily (:func:`import_libvirt`): the module and its
``libvirt_qemu`` companion have no type information, so they are typed
``Any`` here.
"""

from __future__ import annotations

import base64
import dataclasses
import importlib
import json
import time
import typing

from tests.functional.hypervisor import domains

URI = "qemu:///system"
#: Seconds libvirt waits for one agent command (guest-exec-status polls).
AGENT_TIMEOUT = 5


class Libvirt(typing.NamedTuple):
    libvirt: typing.Any
    libvirt_qemu: typing.Any


def _ignore_error(context: object, error: object) -> None:
    """libvirt's error callback: the error is raised anyway."""


def import_libvirt() -> Libvirt:
    """libvirt-python's two modules; ImportError if not installed.

    libvirt's default error handler, which prints every error to standard
    error (each failed ``guest-ping`` of a booting guest), is silenced:
    the errors are raised as ``libvirt.libvirtError`` all the same.
    """
    modules = Libvirt(importlib.import_module("libvirt"),
                      importlib.import_module("libvirt_qemu"))
    modules.libvirt.registerErrorHandler(_ignore_error, None)
    return modules


class Connection:
    """The tests' connection to qemu:///system; reopened on demand.

    A test that restarts libvirtd calls :meth:`reopen`: the old
    connection went with the daemon.
    """

    def __init__(self, modules: Libvirt):
        self.modules = modules
        self._conn: typing.Any = None

    def get(self) -> typing.Any:
        if self._conn is None:
            self._conn = self.modules.libvirt.open(URI)
        return self._conn

    def reopen(self) -> typing.Any:
        self.close()
        return self.get()

    def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.close()
            except self.modules.libvirt.libvirtError:
                pass  # it went with libvirtd


@dataclasses.dataclass(frozen=True)
class ExecResult:
    """What ``guest-exec-status`` reported for a finished command."""

    exitcode: typing.Optional[int]
    signal: typing.Optional[int]
    stdout: str
    stderr: str


#: What the guest_factory fixture gives: DomainSpec fields in, a started
#: guest out.
GuestFactory = typing.Callable[..., "Guest"]


def _decode(status: typing.Dict[str, typing.Any], key: str) -> str:
    return base64.b64decode(status.get(key, "")).decode("utf-8", "replace")


class Guest:
    """One test domain: define, start, talk to its agent, remove."""

    def __init__(self, modules: Libvirt, connection: typing.Any,
                 spec: domains.DomainSpec):
        self.libvirt = modules.libvirt
        self.libvirt_qemu = modules.libvirt_qemu
        self.connection = connection
        self.spec = spec
        self.domain: typing.Any = None
        #: time.monotonic() when the domain was started.
        self.started_at = 0.0

    @property
    def name(self) -> str:
        return self.spec.name

    def start(self) -> "Guest":
        self.domain = self.connection.defineXML(self.spec.to_xml())
        self.started_at = time.monotonic()
        self.domain.create()
        return self

    def rebind(self, connection: typing.Any) -> None:
        """Use a new libvirt connection (the old one went with libvirtd)."""
        self.connection = connection
        self.domain = connection.lookupByUUIDString(self.spec.uuid)

    def remove(self) -> None:
        """Destroy and undefine the domain; errors are not raised."""
        if self.domain is None:
            return
        for step in (self.domain.destroy, self.domain.undefine):
            try:
                step()
            except self.libvirt.libvirtError:
                pass
        self.domain = None

    def state(self) -> typing.Tuple[int, int]:
        """libvirt's (state, reason) of the domain."""
        state, reason = self.domain.state()
        return int(state), int(reason)

    def console(self) -> str:
        """What the guest wrote to its serial console so far."""
        try:
            return self.spec.console_log.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    # -- the QEMU guest agent, through libvirt ---------------------------

    def agent_command(self, execute: str, timeout: int = AGENT_TIMEOUT,
                      **arguments: typing.Any) -> typing.Any:
        """Run one agent command; its ``return`` value.

        libvirt errors (agent not connected, unresponsive...) are raised
        as ``libvirt.libvirtError``.
        """
        command: typing.Dict[str, typing.Any] = {"execute": execute}
        if arguments:
            command["arguments"] = arguments
        reply = self.libvirt_qemu.qemuAgentCommand(
            self.domain, json.dumps(command), timeout, 0)
        return json.loads(reply)["return"]

    def wait_for_agent(self, timeout: float = 60.0) -> float:
        """Wait until ``guest-ping`` answers; seconds since the start."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.agent_command("guest-ping", timeout=1)
                return time.monotonic() - self.started_at
            except self.libvirt.libvirtError as err:
                if time.monotonic() >= deadline:
                    raise AssertionError(
                        "qemu-ga did not answer guest-ping within %g s: %s"
                        % (timeout, err)) from err
            time.sleep(0.2)

    def spawn(self, path: str, *args: str) -> int:
        """Start a command in the guest (``guest-exec``); its pid."""
        reply = self.agent_command("guest-exec", path=path, arg=list(args),
                                   **{"capture-output": True})
        return int(reply["pid"])

    def wait_exec(self, pid: int, timeout: float = 30.0) -> ExecResult:
        deadline = time.monotonic() + timeout
        while True:
            status = self.agent_command("guest-exec-status", pid=pid)
            if status["exited"]:
                return ExecResult(status.get("exitcode"),
                                  status.get("signal"),
                                  _decode(status, "out-data"),
                                  _decode(status, "err-data"))
            if time.monotonic() >= deadline:
                raise AssertionError("guest command %d still runs after "
                                     "%g s" % (pid, timeout))
            time.sleep(0.1)

    def run(self, path: str, *args: str,
            timeout: float = 30.0) -> ExecResult:
        """Run a command in the guest and wait for it to finish."""
        return self.wait_exec(self.spawn(path, *args), timeout)

    def wait_for_state(self, state: int, timeout: float = 30.0,
                       ) -> typing.Tuple[int, int]:
        """Wait until the domain is in ``state``; (state, reason).

        ``state`` is one of libvirt's ``VIR_DOMAIN_*`` states, e.g.
        ``guest.libvirt.VIR_DOMAIN_SHUTOFF``.
        """
        deadline = time.monotonic() + timeout
        while True:
            current = self.state()
            if current[0] == state:
                return current
            if time.monotonic() >= deadline:
                raise AssertionError("domain %s is in state %s, not %d, "
                                     "after %g s" % (self.name, current,
                                                     state, timeout))
            time.sleep(0.1)
