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

"""The agent's event loop: all I/O of ``nova-vm-heartbeat-guest run``.

One :mod:`selectors` loop watches the port to the host, the application
API socket and its clients, and a self-pipe that signal handlers and
``checks.d`` workers write to. Between events it lets the
:class:`~.agent.Agent` do what is due, and sleeps until the next deadline.
When the host side goes away the port is closed and opened again after a
backoff of 0.2 s doubling to 1 s, so the loop never spins. SIGTERM and
SIGINT make it say ``bye`` and stop with exit status 0.
"""

from __future__ import annotations

import logging
import os
import selectors
import signal
import time
import types
import typing

from nova_vm_heartbeat.common.backoff import Backoff
from nova_vm_heartbeat.common import log_throttle
from nova_vm_heartbeat import guest
from nova_vm_heartbeat.guest import agent as agent_mod
from nova_vm_heartbeat.guest import api
from nova_vm_heartbeat.guest import checks
from nova_vm_heartbeat.guest import components
from nova_vm_heartbeat.guest import listener as listener_mod
from nova_vm_heartbeat.guest import port as port_mod
from nova_vm_heartbeat.guest import session
from nova_vm_heartbeat.guest import settings as settings_mod
from nova_vm_heartbeat.guest import shutdown
from nova_vm_heartbeat.protocol import errors

LOG = logging.getLogger(__name__)

#: The longest the loop sleeps, whatever the deadlines say.
MAX_SLEEP = 5.0
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


def build_agent(settings: settings_mod.Settings,
                clock: typing.Callable[[], float]) -> agent_mod.Agent:
    """The agent for ``settings``, with this guest's identity."""
    identity = session.Identity(
        agent=guest.AGENT_NAME, agent_version=guest.agent_version(),
        boot_id=session.read_boot_id())
    return agent_mod.Agent(
        components.Registry(clock),
        session.Session(identity, clock,
                        hello_timeout=settings.hello_timeout),
        clock, port_name=settings.port)


class Daemon:
    """Runs the agent until a stop signal arrives."""

    def __init__(self, settings: settings_mod.Settings,
                 clock: typing.Callable[[], float] = time.monotonic):
        self.settings = settings
        self._clock = clock
        self.agent = build_agent(settings, clock)
        self.port = port_mod.Port(settings.port)
        self._backoff = Backoff(port_mod.REOPEN_FIRST, port_mod.REOPEN_MAX)
        self._throttle = log_throttle.ThrottledLog(LOG, clock)
        self._reopen_at = 0.0
        self._port_events = 0
        self._heard_host = False
        self._open_failed = False
        self._stop_signal: typing.Optional[int] = None
        self._selector: selectors.BaseSelector = selectors.DefaultSelector()
        self._wake_r, self._wake_w = os.pipe()
        self._old_handlers: typing.Dict[int, typing.Any] = {}
        self._old_wakeup_fd = -1
        self.listener = listener_mod.Listener(
            settings.socket, self._selector, self._on_request, clock,
            group=settings.socket_group)
        self.checks = checks.CheckRunner(
            settings.checks_dir, settings.check_interval,
            settings.check_timeout, clock, self._wake)

    # -- running -------------------------------------------------------------

    def run(self) -> int:
        """Serve until SIGTERM or SIGINT; the exit status."""
        try:
            self._start()
        except OSError as err:
            LOG.error("Cannot start: %s", err)
            self._close()
            return 1
        try:
            while self._stop_signal is None:
                self._run_once()
            LOG.info("Received signal %d", self._stop_signal)
            self._say_bye()
        finally:
            self._close()
        return 0

    def _start(self) -> None:
        for fd in (self._wake_r, self._wake_w):
            os.set_blocking(fd, False)
        self._selector.register(self._wake_r, selectors.EVENT_READ,
                                self._on_wake)
        # Signals first: once the API socket exists, SIGTERM means bye.
        self._old_wakeup_fd = signal.set_wakeup_fd(self._wake_w)
        for signum in STOP_SIGNALS:
            self._old_handlers[signum] = signal.signal(signum, self._on_stop)
        self.listener.open()
        LOG.info("Agent started: port %s, API socket %s, checks in %s",
                 self.settings.port, self.settings.socket,
                 self.settings.checks_dir)

    def _run_once(self) -> None:
        if not self.port.is_open and self._clock() >= self._reopen_at:
            self._open_port()
        for key, mask in self._selector.select(self._sleep_time()):
            key.data(mask)
        self._collect_checks()
        self.listener.tick()
        self._send(self.agent.tick())

    def _sleep_time(self) -> float:
        deadlines = [self.agent.next_deadline(),
                     self.listener.next_deadline(), self.checks.next_run]
        if not self.port.is_open:
            deadlines.append(self._reopen_at)
        present = [d for d in deadlines if d is not None]
        delay = min(present) - self._clock() if present else MAX_SLEEP
        return max(0.0, min(delay, MAX_SLEEP))

    def _on_stop(self, signum: int,
                 frame: typing.Optional[types.FrameType]) -> None:
        self._stop_signal = signum

    def _wake(self) -> None:
        """Wake the loop up (called from worker threads too)."""
        try:
            os.write(self._wake_w, b"\0")
        except OSError:
            pass  # the pipe is full: the loop is awake anyway

    def _on_wake(self, mask: int) -> None:
        try:
            while os.read(self._wake_r, 512):
                pass
        except OSError:
            pass

    # -- checks.d ------------------------------------------------------------

    def _collect_checks(self) -> None:
        for component in self.checks.tick():
            self.agent.registry.discard(component)
        for result in self.checks.results():
            try:
                self.agent.registry.notify(
                    result.component, result.status, result.reason,
                    result.progress, ttl=self.checks.ttl)
            except components.ComponentError as err:
                self._throttle.log(logging.WARNING, "check",
                                   "Check result dropped: %s", err)

    # -- the application API -------------------------------------------------

    def _on_request(self, line: bytes, reply: agent_mod.ReplyFn) -> None:
        try:
            request = api.parse_request(line)
        except api.ApiError as err:
            LOG.debug("Bad API request %s: %s", errors.excerpt(line), err)
            reply(api.error_reply(str(err)))
            return
        self._send(self.agent.handle(request, reply))

    # -- the port ------------------------------------------------------------

    def _open_port(self) -> None:
        try:
            self.port.open()
        except OSError as err:
            level = logging.DEBUG if self._open_failed else logging.WARNING
            LOG.log(level, "Cannot open the port %s: %s", self.port.spec,
                    err.strerror or err)
            self._open_failed = True
            self._reopen_at = self._clock() + self._backoff.next()
            return
        if self._open_failed:
            LOG.info("Opened the port %s", self.port.spec)
        self._open_failed, self._heard_host = False, False
        self._watch_port(selectors.EVENT_READ)
        self._send(self.agent.connected())

    def _watch_port(self, events: int) -> None:
        if events == self._port_events:
            return
        if not self._port_events:
            self._selector.register(self.port.fileno(), events,
                                    self._on_port)
        elif not events:
            self._selector.unregister(self.port.fileno())
        else:
            self._selector.modify(self.port.fileno(), events, self._on_port)
        self._port_events = events

    def _on_port(self, mask: int) -> None:
        if mask & selectors.EVENT_READ:
            data = self.port.read()
            if data == b"":
                self._lose_port("the host closed the channel")
                return
            if data:
                self._heard_host = True
                self._backoff.reset()
                self._send(self.agent.received(data))
        if mask & selectors.EVENT_WRITE and self.port.is_open:
            self._send(b"")

    def _send(self, data: bytes) -> None:
        """Queue ``data`` for the host and flush what the port takes."""
        if not self.port.is_open:
            return
        try:
            self.port.write(data)
        except OSError as err:
            self._lose_port("cannot write to the port: %s" % err)
            return
        self._watch_port(selectors.EVENT_READ | (
            selectors.EVENT_WRITE if self.port.wants_write else 0))

    def _lose_port(self, why: str) -> None:
        level = logging.INFO if self._heard_host else logging.DEBUG
        LOG.log(level, "Heartbeat channel lost (%s); reopening", why)
        self._watch_port(0)
        self.port.close()
        self.agent.disconnected()
        self._reopen_at = self._clock() + self._backoff.next()

    # -- stopping ------------------------------------------------------------

    def _say_bye(self) -> None:
        reason = shutdown.bye_reason(self.settings.shutdown_reason_file)
        data = self.agent.goodbye(reason)
        if not data or not self.port.is_open:
            LOG.info("Stopping (%s); no session to say bye in", reason.value)
            return
        try:
            self.port.write(data)
            sent = self.port.drain(self.settings.bye_timeout)
        except OSError:
            sent = False
        LOG.info("Stopping: %s bye (%s) to the host",
                 "said" if sent else "could not say", reason.value)

    def _close(self) -> None:
        self.checks.close()
        self.listener.close()
        if self.port.is_open:
            self._watch_port(0)
            self.port.close()
        for signum, handler in self._old_handlers.items():
            signal.signal(signum, handler)
        if self._old_handlers:
            signal.set_wakeup_fd(self._old_wakeup_fd)
        self._old_handlers = {}
        self._selector.close()
        for fd in (self._wake_r, self._wake_w):
            os.close(fd)


def run(settings: settings_mod.Settings) -> int:
    """Run the agent daemon; the exit status."""
    return Daemon(settings).run()
