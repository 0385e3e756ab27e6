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

"""libvirt domain events, for the standalone monitor.

Inside nova-compute, Nova owns libvirt's event loop and the driver feeds
lifecycle events to the runtime itself. Standalone, :class:`EventFeed`
runs the loop: a thread that registers libvirt's default event
implementation, opens its own connection, subscribes to the lifecycle,
reboot and agent-lifecycle events of every domain, and posts each as a
monitor signal. When libvirtd goes away (the connection's close callback,
or its keep-alive) it logs once, reconnects with a growing back-off, and
once back tells the runtime to forgive what went unobserved meanwhile.

libvirt's lifecycle events map as follows (:func:`lifecycle_signal`):
STARTED to ``started``; SUSPENDED and PMSUSPENDED to ``paused``; RESUMED
to ``resumed``; SHUTDOWN (the guest finished shutting down, whatever the
detail: ``finished``, ``guest`` or ``host``) to ``shutting_down``; STOPPED
to ``stopped``, or ``crashed`` with detail CRASHED or FAILED (QEMU died
unexpectedly: the instance is down without anyone asking); CRASHED to
``crashed``. DEFINED and UNDEFINED are left to the instance source. A
REBOOT event (a reset inside the same QEMU) is ``rebooted``.
"""

from __future__ import annotations

import logging
import threading
import time
import typing
import weakref

from nova_vm_heartbeat.common.backoff import Backoff
from nova_vm_heartbeat.common.log_throttle import LogThrottle
from nova_vm_heartbeat.monitor import signals as sig

LOG = logging.getLogger(__name__)

Post = typing.Callable[[str, sig.Signal], None]
#: The event loop wakes at least this often, so that stop() is quick.
TICK_MS = 200
L = sig.Lifecycle
_EVENTS = {
    "VIR_DOMAIN_EVENT_STARTED": L.STARTED,
    "VIR_DOMAIN_EVENT_SUSPENDED": L.PAUSED,
    "VIR_DOMAIN_EVENT_RESUMED": L.RESUMED,
    "VIR_DOMAIN_EVENT_STOPPED": L.STOPPED,
    "VIR_DOMAIN_EVENT_SHUTDOWN": L.SHUTTING_DOWN,
    "VIR_DOMAIN_EVENT_PMSUSPENDED": L.PAUSED,
    "VIR_DOMAIN_EVENT_CRASHED": L.CRASHED,
}
#: The libvirt modules whose default event loop is registered.
_registered: weakref.WeakSet[typing.Any] = weakref.WeakSet()
_register_lock = threading.Lock()


def _constants(libvirt: typing.Any, prefix: str) -> typing.Dict[int, str]:
    """value -> lower-case name suffix of the constants named prefix*."""
    found: typing.Dict[int, str] = {}
    for name in dir(libvirt):
        value = getattr(libvirt, name)
        if name.startswith(prefix) and isinstance(value, int) \
                and not name.endswith("_LAST"):
            found.setdefault(value, name[len(prefix):].lower())
    return found


def lifecycle_signal(libvirt: typing.Any, event: int,
                     detail: int) -> typing.Optional[sig.DomainEvent]:
    """The signal of a libvirt lifecycle event; None to ignore it."""
    for name, lifecycle in _EVENTS.items():
        if getattr(libvirt, name, None) == event:
            details = _constants(libvirt, name + "_")
            text = details.get(detail, str(detail))
            if lifecycle is L.STOPPED and text in ("crashed", "failed"):
                lifecycle = L.CRASHED
            return sig.DomainEvent(lifecycle, text)
    return None


def register_event_loop(libvirt: typing.Any) -> None:
    """Register libvirt's default event loop, once per process.

    It must happen before the first connection is opened.
    """
    with _register_lock:
        if libvirt not in _registered:
            libvirt.virEventRegisterDefaultImpl()
            _registered.add(libvirt)


class EventFeed:
    """A thread that runs libvirt's event loop and posts domain events."""

    def __init__(self, libvirt: typing.Any, uri: str, post: Post,
                 on_restored: typing.Callable[[], None],
                 reconnect_max: float = 30.0):
        self.libvirt = libvirt
        self.uri = uri
        self._post = post
        self._on_restored = on_restored
        self._backoff = Backoff(0.5, reconnect_max)
        self._stop = threading.Event()
        self._thread: typing.Optional[threading.Thread] = None
        self._conn: typing.Optional[typing.Any] = None
        self._callbacks: typing.List[int] = []
        self._closed = False
        self._ever_connected = False
        self._outage = False

    def start(self) -> None:
        register_event_loop(self.libvirt)
        self._thread = threading.Thread(target=self._run, daemon=True,
                                        name="heartbeat-libvirt-events")
        self._thread.start()

    def stop(self, timeout: float = 0.8) -> None:
        self._stop.set()
        try:  # wake the loop now rather than at its next tick
            self.libvirt.virEventAddTimeout(0, _remove_self, self.libvirt)
        except Exception:
            LOG.debug("Could not interrupt the libvirt event loop",
                      exc_info=True)
        if self._thread is not None:
            self._thread.join(timeout)

    # -- the thread ---------------------------------------------------------

    def _run(self) -> None:
        tick = self.libvirt.virEventAddTimeout(TICK_MS, _nothing, None)
        errors = LogThrottle(60.0)
        try:
            while not self._stop.is_set():
                try:
                    self._iterate()
                except Exception:
                    if errors.allow(time.monotonic()) is not None:
                        LOG.exception("Unexpected error in the libvirt "
                                      "event thread; going on")
                    self._stop.wait(1.0)
        finally:
            self._disconnect()
            self.libvirt.virEventRemoveTimeout(tick)

    def _iterate(self) -> None:
        if self._conn is None and not self._connect():
            self._stop.wait(self._backoff.next())
            return
        if self._closed:
            self._connection_lost("the connection was closed")
            return
        try:
            self.libvirt.virEventRunDefaultImpl()
        except self.libvirt.libvirtError as err:
            self._connection_lost(str(err))

    def _connect(self) -> bool:
        try:
            conn = self.libvirt.open(self.uri)
            self._conn, self._closed = conn, False
            self._subscribe(conn)
        except self.libvirt.libvirtError as err:
            self._disconnect()
            LOG.debug("Cannot connect to libvirt for events: %(err)s",
                      {"err": err})
            return False
        self._connected()
        return True

    def _connected(self) -> None:
        self._backoff.reset()
        if self._outage:
            LOG.info("libvirt events from %(uri)s are back; forgiving what "
                     "went unobserved meanwhile", {"uri": self.uri})
            self._on_restored()
        self._outage = False
        self._ever_connected = True

    def _subscribe(self, conn: typing.Any) -> None:
        lv = self.libvirt
        try:
            conn.setKeepAlive(5, 3)
        except lv.libvirtError:
            LOG.debug("libvirt keep-alive not available", exc_info=True)
        conn.registerCloseCallback(self._on_close, None)
        for event_id, callback in (
                (lv.VIR_DOMAIN_EVENT_ID_LIFECYCLE, self._on_lifecycle),
                (lv.VIR_DOMAIN_EVENT_ID_REBOOT, self._on_reboot),
                (lv.VIR_DOMAIN_EVENT_ID_AGENT_LIFECYCLE, self._on_agent)):
            self._callbacks.append(conn.domainEventRegisterAny(
                None, event_id, callback, None))

    def _connection_lost(self, why: str) -> None:
        if not self._outage and self._ever_connected:
            LOG.warning("Lost the libvirt connection to %(uri)s (%(why)s); "
                        "reconnecting", {"uri": self.uri, "why": why})
        self._outage = True
        self._disconnect()

    def _disconnect(self) -> None:
        conn, self._conn = self._conn, None
        callbacks, self._callbacks = self._callbacks, []
        if conn is None:
            return
        for callback_id in callbacks:
            _quietly(conn.domainEventDeregisterAny, callback_id)
        _quietly(conn.unregisterCloseCallback)
        _quietly(conn.close)

    # -- libvirt callbacks (on this thread) ---------------------------------

    def _on_close(self, conn: typing.Any, reason: int,
                  opaque: object) -> None:
        self._closed = True

    def _on_lifecycle(self, conn: typing.Any, domain: typing.Any,
                      event: int, detail: int, opaque: object) -> None:
        signal = lifecycle_signal(self.libvirt, event, detail)
        if signal is not None:
            self._deliver(domain, signal)

    def _on_reboot(self, conn: typing.Any, domain: typing.Any,
                   opaque: object) -> None:
        self._deliver(domain, sig.DomainEvent(L.REBOOTED))

    def _on_agent(self, conn: typing.Any, domain: typing.Any, state: int,
                  reason: int, opaque: object) -> None:
        connected = state == getattr(
            self.libvirt,
            "VIR_CONNECT_DOMAIN_EVENT_AGENT_LIFECYCLE_STATE_CONNECTED", 1)
        self._deliver(domain, sig.QgaLifecycle(connected))

    def _deliver(self, domain: typing.Any, signal: sig.Signal) -> None:
        try:
            self._post(domain.UUIDString(), signal)
        except Exception:
            LOG.exception("Could not deliver libvirt event %(signal)r",
                          {"signal": signal})


def _nothing(timer: int, opaque: object) -> None:
    """A timeout that only makes the event loop return."""


def _remove_self(timer: int, opaque: typing.Any) -> None:
    opaque.virEventRemoveTimeout(timer)


def _quietly(call: typing.Callable[..., object], *args: object) -> None:
    try:
        call(*args)
    except Exception:  # the connection may already be gone
        LOG.debug("Ignoring an error while disconnecting from libvirt",
                  exc_info=True)
