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

"""QEMU's part, played for the fake libvirt: guests that go quiet.

Nova's harness runs guests as ``fakelibvirt`` domains that do nothing. For
each server a test asks for, :class:`GuestFixture` starts a real guest
agent process behind a :class:`~tests.functional.runtime.relay.ChardevRelay`
listening at the server's heartbeat socket path (where QEMU would), so the
driver's monitor connects and challenges a real agent. The agent is
stopped (SIGSTOP) while the fake hypervisor has the guest paused, shut
down, saved, frozen or in a migration switchover, and continued
(SIGCONT) when it runs again. When the domain boots, the agent is
replaced by a new process after :data:`BOOT_SECONDS`, as a rebooted
guest starts a new agent that says hello. A healthy guest thus goes
quiet during Nova's operations when a real one would.
"""

from __future__ import annotations

import pathlib
import shutil
import signal
import tempfile
import threading
import typing

import fixtures
from nova.tests.fixtures import libvirt as fakelibvirt

from tests.functional.guest import harness
from tests.functional.runtime.relay import ChardevRelay

#: Seconds a booting guest stays silent: longer than a heartbeat takes to
#: be lost with the test flavor, shorter than its boot grace.
BOOT_SECONDS = 4.0
#: Seconds a guest restored from a managed save stays silent.
RESTORE_SECONDS = 1.0


class FakeGuest:
    """One server's guest: a relay at its socket and a real agent."""

    def __init__(self, socket_path: str, workdir: pathlib.Path):
        self.relay = ChardevRelay(socket_path, str(workdir / "port.sock"))
        self.agent = harness.AgentProcess(workdir)
        self.frozen = False
        self._lock = threading.Lock()
        self._timer: typing.Optional[threading.Timer] = None

    def start(self) -> None:
        self.relay.start()
        self.agent.start()

    def stop(self) -> None:
        self._cancel()
        if self.frozen:
            self.agent.signal(signal.SIGCONT)
        self.agent.stop()
        self.relay.stop()

    def freeze(self) -> None:
        """The guest stops running (paused, shut off, frozen)."""
        with self._lock:
            self._cancel()
            if not self.frozen:
                self.agent.signal(signal.SIGSTOP)
                self.frozen = True

    def thaw(self, after: float = 0.0) -> None:
        """The guest runs again, ``after`` seconds from now."""
        with self._lock:
            self._cancel()
            if after > 0:
                self._timer = threading.Timer(after, self.thaw)
                self._timer.daemon = True
                self._timer.start()
            elif self.frozen:
                self.agent.signal(signal.SIGCONT)
                self.frozen = False

    def reboot(self, after: float = BOOT_SECONDS) -> None:
        """The guest boots: a new agent answers ``after`` seconds from now."""
        self.freeze()
        with self._lock:
            self._timer = threading.Timer(after, self._boot)
            self._timer.daemon = True
            self._timer.start()

    def _boot(self) -> None:
        with self._lock:
            self._timer = None
            self.agent.stop()
            self.frozen = False
            self.agent = harness.AgentProcess(self.agent.workdir)
            self.agent.start()

    def _cancel(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None


class GuestFixture(fixtures.Fixture):
    """Fake guests, tied to the fake libvirt domains of their servers."""

    def __init__(self, socket_dir: str):
        super().__init__()
        self.socket_dir = socket_dir
        self.guests: typing.Dict[str, FakeGuest] = {}

    def _setUp(self) -> None:
        self.workdir = pathlib.Path(
            tempfile.mkdtemp(prefix="hbg-", dir="/tmp"))
        self.addCleanup(self._remove_workdir)
        self.addCleanup(self._stop_all)
        domain = "nova.tests.fixtures.libvirt.Domain."
        for name, action in (("suspend", self._freeze),
                             ("shutdown", self._freeze),
                             ("destroy", self._freeze),
                             ("managedSave", self._freeze),
                             ("fsFreeze", self._freeze),
                             ("resume", self._thaw),
                             ("fsThaw", self._thaw)):
            original = getattr(fakelibvirt.Domain, name)
            self.useFixture(fixtures.MonkeyPatch(
                domain + name, _after(original, action)))
        self.useFixture(fixtures.MonkeyPatch(
            domain + "createWithFlags",
            self._starting(fakelibvirt.Domain.createWithFlags)))

    def start(self, uuid: str, socket_path: str) -> FakeGuest:
        home = self.workdir / uuid
        home.mkdir()
        guest = FakeGuest(socket_path, home)
        guest.start()
        self.guests[uuid] = guest
        return guest

    def _freeze(self, domain: typing.Any) -> None:
        guest = self.guests.get(domain.UUIDString())
        if guest is not None:
            guest.freeze()

    def _thaw(self, domain: typing.Any) -> None:
        guest = self.guests.get(domain.UUIDString())
        if guest is not None:
            guest.thaw()

    def _starting(self, original: typing.Callable[..., typing.Any],
                  ) -> typing.Callable[..., typing.Any]:
        """A domain starts: it boots, or resumes from its saved memory."""
        def create_with_flags(domain: typing.Any, flags: int) -> typing.Any:
            restored = bool(domain.hasManagedSaveImage(0))
            result = original(domain, flags)
            guest = self.guests.get(domain.UUIDString())
            if guest is not None and restored:
                guest.thaw(after=RESTORE_SECONDS)
            elif guest is not None:
                guest.reboot()
            return result
        return create_with_flags

    def _stop_all(self) -> None:
        for guest in self.guests.values():
            guest.stop()

    def _remove_workdir(self) -> None:
        shutil.rmtree(self.workdir, ignore_errors=True)


def _after(original: typing.Callable[..., typing.Any],
           action: typing.Callable[[typing.Any], None],
           ) -> typing.Callable[..., typing.Any]:
    def wrapper(domain: typing.Any, *args: typing.Any) -> typing.Any:
        result = original(domain, *args)
        action(domain)
        return result
    return wrapper
