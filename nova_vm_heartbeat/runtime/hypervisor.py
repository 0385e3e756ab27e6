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

"""libvirt, as the runtime uses it: modules loaded lazily, one connection.

:class:`Hypervisor` holds the ``libvirt`` module (the real one, imported
only when the runtime needs it, or a test double), its ``libvirt_qemu``
companion for agent commands, and one connection. The QGA probes and
the statistics sampler each have their own (libvirt makes calls about one
domain on one connection wait for each other: see ``stats.py``); each is
named for its purpose in the logs.

The connection is opened on first use and again after it broke. A
connection learns that libvirtd restarted only when a call on it fails,
which may be long after the restart (QGA is challenged once a minute
while our agent answers). So :meth:`Hypervisor.retrying` makes a call
and, if it failed because the connection broke, makes it once more on a
new connection: the restart costs a log line, never a probe. Nothing
here imports libvirt at import time.
"""

from __future__ import annotations

import importlib
import logging
import threading
import typing

from nova_vm_heartbeat.runtime import libvirt_errors
from nova_vm_heartbeat.runtime.throttle import Once

LOG = logging.getLogger(__name__)

T = typing.TypeVar("T")


def import_libvirt() -> typing.Optional[typing.Any]:
    """The libvirt module, or None (logged) when it is not installed."""
    try:
        return importlib.import_module("libvirt")
    except ImportError as err:
        LOG.warning("The libvirt Python bindings are not installed (%(err)s):"
                    " no QEMU guest agent challenges, lifecycle events or "
                    "domain statistics", {"err": err})
        return None


def silence_stderr(libvirt: typing.Any) -> None:
    """Stop libvirt printing every error to stderr (standalone only).

    libvirt's default error handler writes each error to stderr, even
    those that are raised and handled, such as an agent that is not
    connected yet. The runtime logs what matters itself. Inside
    nova-compute, Nova installs its own handler.
    """
    register = getattr(libvirt, "registerErrorHandler", None)
    if callable(register):
        register(_ignore_error, None)


def _ignore_error(opaque: object, error: object) -> None:
    """libvirt's error handler: the error is raised and handled anyway."""


def qemu_module(libvirt: typing.Any) -> typing.Optional[typing.Any]:
    """The ``libvirt_qemu`` module that goes with ``libvirt``.

    A test double carries its own as a ``libvirt_qemu`` attribute.
    """
    qemu = getattr(libvirt, "libvirt_qemu", None)
    if qemu is not None:
        return qemu
    try:
        return importlib.import_module("libvirt_qemu")
    except ImportError as err:
        LOG.warning("libvirt_qemu cannot be imported (%(err)s): no QEMU "
                    "guest agent challenges", {"err": err})
        return None


class Hypervisor:
    """The libvirt modules and one lazily opened connection."""

    def __init__(self, libvirt: typing.Any, uri: str,
                 qemu: typing.Optional[typing.Any] = None,
                 purpose: str = "libvirt calls"):
        self.libvirt = libvirt
        self.qemu = qemu
        self.uri = uri
        #: What the connection is for, in its log messages.
        self.purpose = purpose
        self.error: typing.Type[BaseException] = libvirt.libvirtError
        self._lock = threading.Lock()
        self._conn: typing.Optional[typing.Any] = None
        self._outage = Once()

    def connection(self) -> typing.Any:
        """The connection, opened if needed.

        :raises libvirtError: libvirtd cannot be reached.
        """
        with self._lock:
            if self._conn is None:
                self._conn = self._open()
            return self._conn

    def _open(self) -> typing.Any:
        try:
            conn = self.libvirt.open(self.uri)
        except self.error as err:
            if self._outage.first():
                LOG.warning("Cannot connect to libvirt at %(uri)s for "
                            "%(purpose)s: %(err)s; retrying at the next "
                            "call", {"uri": self.uri, "err": err,
                                     "purpose": self.purpose})
            raise
        if self._outage.clear():
            LOG.info("Connected to libvirt at %(uri)s again for "
                     "%(purpose)s", {"uri": self.uri,
                                     "purpose": self.purpose})
        return conn

    def retrying(self, call: typing.Callable[[], T]) -> T:
        """``call()``, made again once if the connection broke under it.

        ``call`` gets the connection with :meth:`connection` (or
        :meth:`domain`) each time it runs, so the second run opens a new
        one. Errors about a domain, and a second failure, are raised.
        """
        try:
            return call()
        except self.error as err:
            if not self.reset(err):
                raise
        return call()

    def reset(self, err: BaseException) -> bool:
        """Drop the connection if ``err`` says it broke; whether it did."""
        if not libvirt_errors.is_connection_error(self.libvirt, err):
            return False
        with self._lock:
            conn, self._conn = self._conn, None
        if conn is not None:
            if self._outage.first():
                LOG.warning("The libvirt connection for %(purpose)s to "
                            "%(uri)s broke (%(err)s); reconnecting",
                            {"uri": self.uri, "err": err,
                             "purpose": self.purpose})
            _close_quietly(conn)
        return True

    def gone(self, err: BaseException) -> bool:
        """Whether ``err`` concerns one domain, not the connection.

        For example: the domain was undefined or stopped meanwhile.
        """
        return not libvirt_errors.is_connection_error(self.libvirt, err)

    def close(self) -> None:
        with self._lock:
            conn, self._conn = self._conn, None
        if conn is not None:
            _close_quietly(conn)

    def domain(self, uuid: str) -> typing.Any:
        """The domain with ``uuid``.

        :raises libvirtError: no such domain, or libvirtd unreachable.
        """
        return self.connection().lookupByUUIDString(uuid)

    def agent_command(self, domain: typing.Any, command: str,
                      timeout: int) -> str:
        """Run a QEMU guest agent command; its reply text."""
        assert self.qemu is not None
        reply = self.qemu.qemuAgentCommand(domain, command, timeout, 0)
        return str(reply)

    def constant(self, name: str, default: int = 0) -> int:
        value = getattr(self.libvirt, name, default)
        return value if isinstance(value, int) else default


def _close_quietly(conn: typing.Any) -> None:
    try:
        conn.close()
    except Exception:  # a broken connection may fail to close: fine
        LOG.debug("Closing a broken libvirt connection failed",
                  exc_info=True)
