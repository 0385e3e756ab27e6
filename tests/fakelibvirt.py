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

"""A small fake of the ``libvirt`` and ``libvirt_qemu`` modules, for tests.

:class:`FakeLibvirt` stands in for the ``libvirt`` module: it has the
constants the runtime uses, ``libvirtError``, ``open()``, the default
event loop functions, and a ``libvirt_qemu`` attribute with
``qemuAgentCommand``. Behind it a scripted "libvirtd" holds the domains a
test defines (XML, state, how their guest agent behaves, how fast their
counters grow), fires domain events on request, and can be stopped and
started again like a restarting libvirtd.

Each test makes its own instance (``FakeLibvirt()``) and passes it where
the runtime takes a libvirt module; nothing is patched.
"""

from __future__ import annotations

import contextlib
import dataclasses
import itertools
import threading
import time
import typing

from tests.fakelibvirt_events import bind
from tests.fakelibvirt_events import EventLoop


class C:
    """The libvirt constants the runtime and the tests use.

    Values from libvirt's public headers.
    """

    # virErrorNumber
    VIR_ERR_OK = 0
    VIR_ERR_INTERNAL_ERROR = 1
    VIR_ERR_NO_CONNECT = 5
    VIR_ERR_INVALID_CONN = 6
    VIR_ERR_SYSTEM_ERROR = 38
    VIR_ERR_RPC = 39
    VIR_ERR_NO_DOMAIN = 42
    VIR_ERR_OPERATION_INVALID = 55
    VIR_ERR_OPERATION_TIMEOUT = 68
    VIR_ERR_ARGUMENT_UNSUPPORTED = 74
    VIR_ERR_AGENT_UNRESPONSIVE = 86
    VIR_ERR_RESOURCE_BUSY = 87
    VIR_ERR_AGENT_UNSYNCED = 97
    VIR_ERR_AGENT_COMMAND_TIMEOUT = 112
    VIR_ERR_AGENT_COMMAND_FAILED = 113
    # virConnectListAllDomainsFlags
    VIR_CONNECT_LIST_DOMAINS_RUNNING = 16
    # virDomainState
    VIR_DOMAIN_NOSTATE = 0
    VIR_DOMAIN_RUNNING = 1
    VIR_DOMAIN_BLOCKED = 2
    VIR_DOMAIN_PAUSED = 3
    VIR_DOMAIN_SHUTDOWN = 4
    VIR_DOMAIN_SHUTOFF = 5
    VIR_DOMAIN_CRASHED = 6
    VIR_DOMAIN_PMSUSPENDED = 7
    # virDomainEventID
    VIR_DOMAIN_EVENT_ID_LIFECYCLE = 0
    VIR_DOMAIN_EVENT_ID_REBOOT = 1
    VIR_DOMAIN_EVENT_ID_AGENT_LIFECYCLE = 18
    # virDomainEventType and details
    VIR_DOMAIN_EVENT_DEFINED = 0
    VIR_DOMAIN_EVENT_UNDEFINED = 1
    VIR_DOMAIN_EVENT_STARTED = 2
    VIR_DOMAIN_EVENT_SUSPENDED = 3
    VIR_DOMAIN_EVENT_RESUMED = 4
    VIR_DOMAIN_EVENT_STOPPED = 5
    VIR_DOMAIN_EVENT_SHUTDOWN = 6
    VIR_DOMAIN_EVENT_PMSUSPENDED = 7
    VIR_DOMAIN_EVENT_CRASHED = 8
    VIR_DOMAIN_EVENT_STARTED_BOOTED = 0
    VIR_DOMAIN_EVENT_STARTED_MIGRATED = 1
    VIR_DOMAIN_EVENT_STARTED_RESTORED = 2
    VIR_DOMAIN_EVENT_SUSPENDED_PAUSED = 0
    VIR_DOMAIN_EVENT_SUSPENDED_MIGRATED = 1
    VIR_DOMAIN_EVENT_SUSPENDED_IOERROR = 2
    VIR_DOMAIN_EVENT_RESUMED_UNPAUSED = 0
    VIR_DOMAIN_EVENT_RESUMED_MIGRATED = 1
    VIR_DOMAIN_EVENT_STOPPED_SHUTDOWN = 0
    VIR_DOMAIN_EVENT_STOPPED_DESTROYED = 1
    VIR_DOMAIN_EVENT_STOPPED_CRASHED = 2
    VIR_DOMAIN_EVENT_STOPPED_MIGRATED = 3
    VIR_DOMAIN_EVENT_STOPPED_SAVED = 4
    VIR_DOMAIN_EVENT_STOPPED_FAILED = 5
    VIR_DOMAIN_EVENT_SHUTDOWN_FINISHED = 0
    VIR_DOMAIN_EVENT_SHUTDOWN_GUEST = 1
    VIR_DOMAIN_EVENT_SHUTDOWN_HOST = 2
    VIR_DOMAIN_EVENT_PMSUSPENDED_MEMORY = 0
    VIR_DOMAIN_EVENT_CRASHED_PANICKED = 0
    VIR_CONNECT_DOMAIN_EVENT_AGENT_LIFECYCLE_STATE_CONNECTED = 1
    VIR_CONNECT_DOMAIN_EVENT_AGENT_LIFECYCLE_STATE_DISCONNECTED = 2
    VIR_CONNECT_DOMAIN_EVENT_AGENT_LIFECYCLE_REASON_CHANNEL = 2
    VIR_CONNECT_CLOSE_REASON_ERROR = 0
    VIR_CONNECT_CLOSE_REASON_EOF = 1
    # statistics
    VIR_DOMAIN_STATS_STATE = 1
    VIR_DOMAIN_STATS_CPU_TOTAL = 2
    VIR_DOMAIN_STATS_INTERFACE = 16
    VIR_DOMAIN_STATS_BLOCK = 32
    VIR_CONNECT_GET_ALL_DOMAINS_STATS_ACTIVE = 1
    VIR_CONNECT_GET_ALL_DOMAINS_STATS_NOWAIT = 1 << 29


#: name -> value of every constant.
#: Seconds a bulk statistics call blocks on a stopped QEMU, at most.
STATS_BLOCK_MAX = 30.0
CONSTANTS = {k: v for k, v in vars(C).items() if k.startswith("VIR_")}


class libvirtError(Exception):
    """libvirt's error: a message and a ``virErrorNumber`` code."""

    def __init__(self, message: str, code: int = C.VIR_ERR_INTERNAL_ERROR):
        super().__init__(message)
        self.message = message
        self.code = code

    def get_error_code(self) -> int:
        return self.code

    def get_error_message(self) -> str:
        return self.message

    def get_error_domain(self) -> int:
        return 10  # VIR_FROM_QEMU


def client_socket_closed() -> libvirtError:
    return libvirtError("internal error: client socket is closed",
                        C.VIR_ERR_INTERNAL_ERROR)


@dataclasses.dataclass
class Qga:
    """How a domain's guest agent behaves.

    ``mode``: ``answer`` (echo the sync id), ``hang`` (answer nothing until
    the call times out), ``error`` (raise ``code``/``message``),
    ``vanish`` (the domain disappears during the call), ``wrong_id``,
    ``garbage``.
    """

    mode: str = "answer"
    code: int = C.VIR_ERR_AGENT_UNRESPONSIVE
    message: str = "Guest agent is not responding: QEMU guest agent is " \
        "not connected"
    delay: float = 0.0
    calls: int = 0
    timeouts: typing.List[int] = dataclasses.field(default_factory=list)


def domain_xml(uuid: str, name: str, heartbeat_socket: str = "",
               qga: bool = False, display_name: str = "",
               settings: typing.Optional[typing.Dict[str, str]] = None,
               nova_ns: str = "http://openstack.org/xmlns/libvirt/nova/1.1",
               ) -> str:
    """A domain definition as Nova (and our driver) write them."""
    channels = ""
    if heartbeat_socket:
        channels += ("<channel type='unix'><source mode='bind' path='%s'/>"
                     "<target type='virtio' name='org.openstack.heartbeat.0'"
                     "/></channel>" % heartbeat_socket)
    if qga:
        channels += ("<channel type='unix'><source mode='bind'/>"
                     "<target type='virtio' name='org.qemu.guest_agent.0'/>"
                     "</channel>")
    hb = ""
    if settings is not None:
        hb = ("<hb:heartbeat xmlns:hb='http://openstack.org/xmlns/"
              "nova-vm-heartbeat/1.0' %s/>" % " ".join(
                  "%s='%s'" % item for item in settings.items()))
    return ("<domain type='qemu'><name>%s</name><uuid>%s</uuid><metadata>"
            "<nova:instance xmlns:nova='%s'><nova:name>%s</nova:name>"
            "</nova:instance>%s</metadata><devices>%s</devices></domain>"
            % (name, uuid, nova_ns, display_name, hb, channels))


class Domain:
    """One domain of the fake libvirtd (shared by every connection)."""

    def __init__(self, daemon: Daemon, uuid: str, name: str, xml: str,
                 state: int, qga: Qga, cpu_rate: float, io_rate: int):
        self._daemon = daemon
        self.uuid, self.domain_name, self.xml = uuid, name, xml
        self.run_state = state
        self.qga = qga
        self.cpu_rate, self.io_rate = cpu_rate, io_rate
        self.domain_id = next(daemon.ids)
        self._cpu = 0.0
        self._io = 0.0
        self._sampled = time.monotonic()
        #: Set while the QEMU process runs; cleared by stop_qemu().
        self.qemu_running = threading.Event()
        self.qemu_running.set()
        #: Calls that wait for QEMU, in progress, per connection.
        self._waiting: typing.Dict[int, int] = {}
        self._turn = threading.Condition()

    @contextlib.contextmanager
    def waiting_for_qemu(self, conn: object) -> typing.Iterator[None]:
        """Around a call that waits for QEMU, made on connection ``conn``."""
        with self._turn:
            self._waiting[id(conn)] = self._waiting.get(id(conn), 0) + 1
        try:
            yield
        finally:
            with self._turn:
                self._waiting[id(conn)] -= 1
                self._turn.notify_all()

    def wait_turn(self, conn: object) -> None:
        """Wait while a call on ``conn`` waits for this domain's QEMU.

        libvirt 9.0 does that: while one call about a domain waits for its
        QEMU process (bulk statistics, an agent command), getCPUStats and
        info about the same domain on the same connection wait too; on
        another connection they do not (measured: ``stats.py``).
        """
        with self._turn:
            self._turn.wait_for(lambda: not self._waiting.get(id(conn)),
                                STATS_BLOCK_MAX)

    def stop_qemu(self) -> None:
        """As SIGSTOP to QEMU: no vCPU time, and bulk statistics block."""
        self._grow()
        self.qemu_running.clear()

    def cont_qemu(self) -> None:
        self._grow()
        self.qemu_running.set()

    def _check(self) -> None:
        self._daemon.check()

    def UUIDString(self) -> str:
        return self.uuid

    def name(self) -> str:
        return self.domain_name

    def ID(self) -> int:
        self._check()
        return self.domain_id if self.isActive() else -1

    def XMLDesc(self, flags: int = 0) -> str:
        self._check()
        return self.xml

    def state(self, flags: int = 0) -> typing.List[int]:
        self._check()
        return [self.run_state, 1]

    def isActive(self) -> bool:
        return self.run_state != C.VIR_DOMAIN_SHUTOFF

    def _grow(self) -> None:
        """Grow the counters at their rates since the last time."""
        now = time.monotonic()
        elapsed, self._sampled = now - self._sampled, now
        if self.qemu_running.is_set():
            self._cpu += elapsed * self.cpu_rate
            self._io += elapsed * self.io_rate

    def getCPUStats(self, total: bool,
                    flags: int = 0) -> typing.List[typing.Dict[str, int]]:
        """virDomainGetCPUStats: never waits for QEMU, like the real one."""
        self._check()
        self._grow()
        return [{"cpu_time": int(self._cpu * 1e9)}]

    def info(self) -> typing.List[int]:
        """virDomainGetInfo: never waits for QEMU, like the real one."""
        self._check()
        self._grow()
        return [self.run_state, 262144, 262144, 1, int(self._cpu * 1e9)]

    def stats(self) -> typing.Dict[str, typing.Any]:
        """The counters of a bulk statistics record.

        Like libvirt 9.0, this blocks while QEMU is stopped (at most
        ``STATS_BLOCK_MAX`` seconds here).
        """
        self.qemu_running.wait(STATS_BLOCK_MAX)
        self._grow()
        io = int(self._io)
        return {"cpu.time": int(self._cpu * 1e9),
                "block.count": 1, "block.0.rd.reqs": io,
                "block.0.wr.reqs": io, "net.count": 1,
                "net.0.rx.pkts": io, "net.0.tx.pkts": 0}


class DomainHandle:
    """A domain as one connection sees it (a ``virDomainPtr``).

    Like libvirt's, its calls go over that connection: once it broke
    (libvirtd restarted), they fail even when libvirtd is back.
    """

    def __init__(self, domain: Domain, conn: Connection):
        self.domain, self.conn = domain, conn

    def __getattr__(self, name: str) -> typing.Any:
        value = getattr(self.domain, name)
        if not callable(value):
            return value

        def call(*args: typing.Any, **kwargs: typing.Any) -> typing.Any:
            self.conn._check()
            return value(*args, **kwargs)
        return call

    def getCPUStats(self, total: bool,
                    flags: int = 0) -> typing.List[typing.Dict[str, int]]:
        self.conn._check()
        self.domain.wait_turn(self.conn)
        return self.domain.getCPUStats(total, flags)

    def info(self) -> typing.List[int]:
        self.conn._check()
        self.domain.wait_turn(self.conn)
        return self.domain.info()


def unwrap(domain: typing.Any) -> typing.Tuple[Domain, typing.Any]:
    """The domain behind a handle, and the handle's connection."""
    if isinstance(domain, DomainHandle):
        return domain.domain, domain.conn
    return domain, None


class Daemon:
    """The fake libvirtd: domains, connections, up or down."""

    def __init__(self, loop: EventLoop):
        self.loop = loop
        self.up = True
        self.domains: typing.Dict[str, Domain] = {}
        self.connections: typing.List[Connection] = []
        self.ids = itertools.count(1)
        self.release = threading.Event()
        self.lock = threading.RLock()

    def check(self) -> None:
        if not self.up:
            raise client_socket_closed()

    def stop(self) -> None:
        with self.lock:
            self.up = False
            connections, self.connections = self.connections, []
        for conn in connections:
            conn.broken()

    def fire(self, event_id: int, domain: Domain, *args: object) -> None:
        for conn in list(self.connections):
            conn.fire(event_id, domain, *args)


class Connection:
    """A connection to the fake libvirtd."""

    def __init__(self, daemon: Daemon, uri: str):
        self._daemon = daemon
        self.uri = uri
        self.alive = True
        self._callbacks: typing.Dict[int, typing.Tuple[int, typing.Any,
                                                       object]] = {}
        self._ids = itertools.count(1)
        self._close: typing.Optional[typing.Tuple[typing.Any, object]] = None

    def _check(self) -> None:
        if not self.alive:
            raise client_socket_closed()
        self._daemon.check()

    def close(self) -> int:
        self.alive = False
        with self._daemon.lock:
            if self in self._daemon.connections:
                self._daemon.connections.remove(self)
        return 0

    def isAlive(self) -> bool:
        return self.alive and self._daemon.up

    def setKeepAlive(self, interval: int, count: int) -> int:
        self._check()
        return 0

    def broken(self) -> None:
        """libvirtd went away: the close callback fires (EOF)."""
        self.alive = False
        if self._close is not None:
            callback, opaque = self._close
            self._daemon.loop.dispatch(bind(
                callback, self, C.VIR_CONNECT_CLOSE_REASON_EOF, opaque))

    def listAllDomains(self, flags: int = 0) -> typing.List[Domain]:
        self._check()
        domains = list(self._daemon.domains.values())
        if flags & C.VIR_CONNECT_LIST_DOMAINS_RUNNING:
            domains = [d for d in domains
                       if d.run_state == C.VIR_DOMAIN_RUNNING]
        return domains

    def lookupByUUIDString(self, uuid: str) -> DomainHandle:
        self._check()
        domain = self._daemon.domains.get(uuid)
        if domain is None:
            raise libvirtError("Domain not found: no domain with matching "
                               "uuid '%s'" % uuid, C.VIR_ERR_NO_DOMAIN)
        return DomainHandle(domain, self)

    def getAllDomainStats(self, stats: int = 0,
                          flags: int = 0) -> typing.List[typing.Any]:
        self._check()
        return [(d, d.stats()) for d in self._daemon.domains.values()
                if d.run_state == C.VIR_DOMAIN_RUNNING]

    def domainListGetStats(self, domains: typing.List[Domain],
                           stats: int = 0,
                           flags: int = 0) -> typing.List[typing.Any]:
        """Like libvirt: on the connection of the domains given."""
        self._check()
        records = []
        for handle in domains:
            domain, conn = unwrap(handle)
            if domain.run_state == C.VIR_DOMAIN_RUNNING:
                with domain.waiting_for_qemu(conn or self):
                    records.append((handle, domain.stats()))
        return records

    def domainEventRegisterAny(self, dom: object, event_id: int,
                               callback: typing.Any, opaque: object) -> int:
        self._check()
        callback_id = next(self._ids)
        self._callbacks[callback_id] = (event_id, callback, opaque)
        return callback_id

    def domainEventDeregisterAny(self, callback_id: int) -> int:
        self._callbacks.pop(callback_id, None)
        return 0

    def registerCloseCallback(self, callback: typing.Any,
                              opaque: object) -> int:
        self._close = (callback, opaque)
        return 0

    def unregisterCloseCallback(self) -> int:
        self._close = None
        return 0

    def fire(self, event_id: int, domain: Domain, *args: object) -> None:
        for wanted, callback, opaque in list(self._callbacks.values()):
            if wanted == event_id:
                self._daemon.loop.dispatch(
                    bind(callback, self, domain, *args, opaque))


class FakeLibvirt(C):
    """Stands in for the ``libvirt`` module, with a scripted libvirtd."""

    libvirtError = libvirtError

    def __init__(self) -> None:
        self.loop = EventLoop()
        self.daemon = Daemon(self.loop)
        #: URIs opened, in order.
        self.opened: typing.List[str] = []

    # -- the module's API ---------------------------------------------------

    @property
    def libvirt_qemu(self) -> typing.Any:
        """The matching fake ``libvirt_qemu`` module."""
        from tests import fakelibvirt_qemu
        return fakelibvirt_qemu.FakeLibvirtQemu(self.daemon)

    def open(self, uri: typing.Optional[str] = None) -> Connection:
        if not self.daemon.up:
            raise libvirtError(
                "Failed to connect socket to '/var/run/libvirt/libvirt-"
                "sock': No such file or directory", C.VIR_ERR_SYSTEM_ERROR)
        conn = Connection(self.daemon, uri or "qemu:///system")
        with self.daemon.lock:
            self.daemon.connections.append(conn)
        self.opened.append(conn.uri)
        return conn

    def virEventRegisterDefaultImpl(self) -> int:
        self.loop.registered = True
        return 0

    def virEventRunDefaultImpl(self) -> int:
        return self.loop.run_once()

    def virEventAddTimeout(self, ms: int, callback: typing.Any,
                           opaque: object) -> int:
        return self.loop.add_timeout(ms, callback, opaque)

    def virEventRemoveTimeout(self, timer_id: int) -> int:
        return self.loop.remove_timeout(timer_id)

    # -- scripting, for tests -------------------------------------------------

    def add_domain(self, uuid: str, name: str, xml: str,
                   state: int = C.VIR_DOMAIN_RUNNING,
                   qga: typing.Optional[Qga] = None, cpu_rate: float = 0.05,
                   io_rate: int = 20) -> Domain:
        domain = Domain(self.daemon, uuid, name, xml, state, qga or Qga(),
                        cpu_rate, io_rate)
        with self.daemon.lock:
            self.daemon.domains[uuid] = domain
        return domain

    def remove_domain(self, uuid: str) -> None:
        with self.daemon.lock:
            self.daemon.domains.pop(uuid, None)

    def fire_lifecycle(self, uuid: str, event: int, detail: int = 0) -> None:
        self.daemon.fire(C.VIR_DOMAIN_EVENT_ID_LIFECYCLE,
                         self.daemon.domains[uuid], event, detail)

    def fire_reboot(self, uuid: str) -> None:
        self.daemon.fire(C.VIR_DOMAIN_EVENT_ID_REBOOT,
                         self.daemon.domains[uuid])

    def fire_agent_lifecycle(self, uuid: str, connected: bool) -> None:
        state = (C.VIR_CONNECT_DOMAIN_EVENT_AGENT_LIFECYCLE_STATE_CONNECTED
                 if connected else
                 C.VIR_CONNECT_DOMAIN_EVENT_AGENT_LIFECYCLE_STATE_DISCONNECTED)
        self.daemon.fire(
            C.VIR_DOMAIN_EVENT_ID_AGENT_LIFECYCLE, self.daemon.domains[uuid],
            state, C.VIR_CONNECT_DOMAIN_EVENT_AGENT_LIFECYCLE_REASON_CHANNEL)

    def stop_daemon(self) -> None:
        """libvirtd goes away: connections break, open() fails."""
        self.daemon.stop()

    def start_daemon(self) -> None:
        self.daemon.up = True

    def connections(self) -> int:
        """Live connections to the fake libvirtd."""
        return len(self.daemon.connections)

    def release_hangs(self) -> None:
        """End every hanging agent call at once (test teardown)."""
        self.daemon.release.set()
