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

"""The heartbeat channel of one instance: a UNIX socket to QEMU's chardev.

QEMU listens on the channel's socket (``<source mode='bind'>``); the
runtime connects to it as a client, non-blocking, on the monitor thread's
selector. :class:`HeartbeatChannel` connects when the socket appears,
reconnects with a growing back-off when QEMU restarts, starts every
connection with a fresh protocol session and a 0xFF byte, and hands what
the guest says, as monitor signals, to the runtime.

Costs per guest are bounded whatever the guest does:

* reads: at most ``read_budget`` bytes a second (each read costs at least
  :data:`MIN_READ_CHARGE`, so a guest that trickles single bytes cannot
  make us read often); past the budget the socket is not read until the
  next second, and QEMU stops taking the guest's output;
* CPU: the monitor thread's CPU time spent on the channel (reading,
  decoding, handling what it amounts to) is charged to a
  :class:`CpuBudget`; past it, the socket is not read until the budget
  refills. The guest's judgement goes on: its challenges are sent and
  missed answers count, so a guest that only sends garbage is a guest
  whose agent does not answer, and no other instance waits for it;
* input held: at most the protocol limits' ``max_buffer_bytes``;
* output held: at most :data:`MAX_OUTGOING` bytes; a guest that never
  reads gets its messages dropped and counted.
"""

from __future__ import annotations

import dataclasses
import enum
import errno
import logging
import selectors
import socket
import time
import typing

from nova_vm_heartbeat.common.backoff import Backoff
from nova_vm_heartbeat.common.log_throttle import LogThrottle
from nova_vm_heartbeat.monitor import actions as act
from nova_vm_heartbeat.monitor import signals as sig
from nova_vm_heartbeat import protocol
from nova_vm_heartbeat.runtime.reactor import Reactor
from nova_vm_heartbeat.runtime.reactor import Timer
from nova_vm_heartbeat.runtime.session import HostSession
from nova_vm_heartbeat.runtime.session import Terms
from nova_vm_heartbeat.runtime.throttle import Once

LOG = logging.getLogger(__name__)

HB = sig.Channel.HEARTBEAT
READ = selectors.EVENT_READ
WRITE = selectors.EVENT_WRITE
#: Most bytes asked of one ``recv``.
READ_SIZE = 65536
#: Each read costs at least this much of the budget.
MIN_READ_CHARGE = 512
#: Most bytes waiting for a guest that does not read.
MAX_OUTGOING = 65536
#: CPU seconds per second one guest may cost the monitor thread.
DEFAULT_CPU_BUDGET = 0.01
#: Seconds between two log lines about one guest's abuse.
ABUSE_LOG_PERIOD = 60.0
#: Reads of at most this many bytes are charged their wall-clock time
#: (a vDSO read, ~50 ns), capped at SMALL_READ_MAX_CHARGE; longer ones
#: their thread CPU time (a system call, microseconds under load). Wall
#: time is never less than CPU time, and decoding so few bytes costs far
#: less than the cap, so a small read is never charged less than it cost.
SMALL_READ = 2048
SMALL_READ_MAX_CHARGE = 0.001
#: A connection that lived this long resets the back-off.
STABLE_AFTER = 5.0
#: Errors of connect() that mean "not there (yet)": retry later.
_ABSENT = (errno.ENOENT, errno.ECONNREFUSED, errno.EAGAIN, errno.ENOTDIR,
           errno.ECONNRESET)


class ChannelState(str, enum.Enum):
    #: Not started, or closed for good.
    CLOSED = "closed"
    #: No connection; an attempt is scheduled.
    WAITING = "waiting"
    CONNECTED = "connected"


@dataclasses.dataclass
class ChannelCounters:
    """What happened on a channel, for status and tests."""

    connects: int = 0
    bytes_in: int = 0
    bytes_out: int = 0
    #: Outgoing bytes dropped because the guest did not read.
    dropped_out: int = 0
    #: Times reading paused because the guest exhausted its byte budget.
    throttled: int = 0
    #: Times reading paused because the guest exhausted its CPU budget.
    cpu_throttled: int = 0
    #: CPU seconds the monitor thread spent on this channel.
    cpu_seconds: float = 0.0


@dataclasses.dataclass(frozen=True)
class ChannelSnapshot:
    """A channel's state and counters, for operators."""

    state: ChannelState
    #: Whether a protocol session is established (hello answered).
    established: bool
    counters: ChannelCounters
    #: Bytes held for the guest now, in and out.
    buffered_bytes: int
    #: Invalid guest input by kind, on this channel so far.
    violations: typing.Dict[str, int]

    def abuse(self) -> typing.Dict[str, int]:
        """What the guest did to the host, by kind; only kinds with any.

        The kinds are ``telemetry.ABUSE_KINDS``.
        """
        counts = {"rejected": sum(self.violations.values()),
                  "cpu_budget": self.counters.cpu_throttled,
                  "read_budget": self.counters.throttled}
        return {kind: n for kind, n in counts.items() if n}


class CpuBudget:
    """CPU seconds a guest may cost per second, with one second of burst.

    A token bucket of CPU time: :meth:`charge` takes what was spent (it
    may overdraw: the cost of a read is known only after it), and
    :meth:`resume_at` says when the balance is back above zero.
    """

    def __init__(self, per_second: float):
        self.per_second = per_second
        self._balance = per_second
        self._at = 0.0

    def charge(self, now: float, seconds: float) -> bool:
        """Spend ``seconds`` at ``now``; False when overdrawn."""
        self._refill(now)
        self._balance -= seconds
        return self._balance >= 0.0

    def resume_at(self, now: float) -> float:
        self._refill(now)
        return now + max(0.0, -self._balance) / self.per_second

    def _refill(self, now: float) -> None:
        if now > self._at:
            # A comparison, not min(): this runs for every read.
            balance = self._balance + (now - self._at) * self.per_second
            self._balance = (balance if balance < self.per_second
                             else self.per_second)
            self._at = now


class HeartbeatChannel:
    """Connects to one instance's heartbeat socket and keeps connecting.

    :param deliver: takes each signal the guest's input amounts to.
    :param cpu_budget: CPU seconds per second the monitor thread may
        spend on this guest's input (0.01: 1% of a core).
    :param cpu_clock: this thread's CPU time (a test may pass another).
    :param spread: seconds to wait before the first attempt to connect.
        Instances found together (a monitor restart) are given random
        delays, so that their challenges do not all fall due at the same
        moment of every interval.
    """

    def __init__(self, reactor: Reactor, label: str, name: str, path: str,
                 terms: Terms, *, limits: protocol.Limits,
                 read_budget: int, reconnect_max: float,
                 deliver: typing.Callable[[sig.Signal], None],
                 cpu_budget: float = DEFAULT_CPU_BUDGET,
                 cpu_clock: typing.Callable[[], float] = time.thread_time,
                 spread: float = 0.0):
        self.path = path
        self.label = label
        self.state = ChannelState.CLOSED
        self.counters = ChannelCounters()
        self.session = HostSession(label, name, terms, limits, reactor.clock)
        self._reactor = reactor
        self._deliver = deliver
        self._read_budget = max(read_budget, MIN_READ_CHARGE)
        self._backoff = Backoff(0.5, reconnect_max)
        self._sock: typing.Optional[socket.socket] = None
        self._out = bytearray()
        self._timer: typing.Optional[Timer] = None
        self._resume_timer: typing.Optional[Timer] = None
        self._connected_at = 0.0
        self._window_start = 0.0
        self._window_used = 0
        self._paused = False
        #: The events the selector watches for on the socket now.
        self._watched = 0
        self._spread = spread
        self._absent = Once()
        self._overflow = LogThrottle(60.0)
        self._cpu = CpuBudget(cpu_budget)
        self._cpu_clock = cpu_clock
        self._cpu_log = LogThrottle(ABUSE_LOG_PERIOD)
        self._flush_timer: typing.Optional[Timer] = None

    # -- control ------------------------------------------------------------

    def start(self) -> None:
        """Connect now, or as soon as the socket appears."""
        if self.state is not ChannelState.CLOSED:
            return
        self.state = ChannelState.WAITING
        if self._spread > 0:
            self._timer = self._reactor.call_later(self._spread,
                                                   self._attempt)
            self._spread = 0.0
        else:
            self._attempt()

    def close(self) -> None:
        """Disconnect for good."""
        self._reactor.cancel(self._timer)
        self._timer = None
        self._disconnect()
        self.state = ChannelState.CLOSED

    def nudge(self) -> None:
        """Try to connect now if waiting (the domain just started)."""
        if self.state is ChannelState.WAITING:
            self._backoff.reset()
            self._reactor.cancel(self._timer)
            self._attempt()

    def configure(self, terms: Terms) -> None:
        """New terms: a connected guest is asked to say hello again."""
        if terms == self.session.terms:
            return
        self.session.terms = terms
        if self.state is ChannelState.CONNECTED:
            self._write(self.session.start())
            self._deliver(sig.ChannelLost(HB))

    @property
    def buffered_bytes(self) -> int:
        """Bytes held for this guest, in and out."""
        return self.session.buffered_bytes + len(self._out)

    def snapshot(self) -> ChannelSnapshot:
        return ChannelSnapshot(self.state,
                               self.state is ChannelState.CONNECTED
                               and self.session.established,
                               dataclasses.replace(self.counters),
                               self.buffered_bytes,
                               dict(self.session.violations))

    # -- what the monitor wants sent ------------------------------------------

    def challenge(self, seq: int) -> None:
        self._write(self.session.challenge(seq))

    def ack(self, action: act.SendAck) -> None:
        self._write(self.session.ack(action))

    # -- connecting -----------------------------------------------------------

    def _attempt(self) -> None:
        self._timer = None
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.setblocking(False)
        try:
            sock.connect(self.path)
        except OSError as err:
            sock.close()
            self._retry_later(err)
            return
        self._connected(sock)

    def _retry_later(self, err: OSError) -> None:
        delay = self._backoff.next()
        if self._absent.first() or err.errno not in _ABSENT:
            LOG.info("Instance %(label)s: cannot connect to the heartbeat "
                     "socket %(path)s (%(err)s); retrying with back-off up "
                     "to %(max)g s", {"label": self.label, "path": self.path,
                                      "err": err.strerror or err,
                                      "max": self._backoff.cap})
        self._timer = self._reactor.call_later(delay, self._attempt)

    def _connected(self, sock: socket.socket) -> None:
        self._sock = sock
        self.state = ChannelState.CONNECTED
        self.counters.connects += 1
        self._connected_at = self._reactor.clock()
        self._out.clear()
        self._paused = False
        self._absent.clear()
        LOG.info("Instance %(label)s: connected to %(path)s",
                 {"label": self.label, "path": self.path})
        self._watch()
        self._write(self.session.start())
        if self.state is ChannelState.CONNECTED:
            self._deliver(sig.ChannelConnected(HB))

    def _disconnect(self) -> None:
        self._reactor.cancel(self._resume_timer)
        self._resume_timer = None
        self._reactor.cancel(self._flush_timer)
        self._flush_timer = None
        if self._sock is None:
            return
        self._reactor.unwatch(self._sock)
        self._watched = 0
        self._sock.close()
        self._sock = None
        self._out.clear()

    def _lost(self, why: str, closed_by_qemu: bool = True) -> None:
        """The connection ended: tell the monitor and reconnect later.

        Only QEMU ends an established connection (by closing its end,
        when it exits or restarts): a guest cannot, whatever it does.
        """
        lived = self._reactor.clock() - self._connected_at
        self._disconnect()
        self.state = ChannelState.WAITING
        if lived >= STABLE_AFTER:
            self._backoff.reset()
        LOG.info("Instance %(label)s: heartbeat socket closed (%(why)s); "
                 "reconnecting", {"label": self.label, "why": why})
        self._absent.first()
        self._deliver(sig.ChannelLost(HB, closed_by_qemu))
        self._timer = self._reactor.call_later(self._backoff.next(),
                                               self._attempt)

    # -- the selector ---------------------------------------------------------

    def _watch(self) -> None:
        if self._sock is None:
            return
        events = (0 if self._paused else READ) | (WRITE if self._out else 0)
        if events != self._watched:  # a selector change is a system call
            self._watched = events
            self._reactor.watch(self._sock, events, self._ready)

    def _ready(self, events: int) -> None:
        if events & WRITE:
            self._flush()
        if events & READ and self._sock is not None:
            self._read()

    def _read(self) -> None:
        assert self._sock is not None
        # One clock read serves the byte budget and the CPU budget: a
        # read takes microseconds, far below what either budget resolves.
        now = self._reactor.clock()
        allowed = self._budget_left(now)
        if allowed <= 0:
            self._pause()
            return
        try:
            data = self._sock.recv(allowed if allowed < READ_SIZE
                                   else READ_SIZE)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as err:
            self._lost(err.strerror or str(err))
            return
        size = len(data)
        # Comparisons rather than min() and max() (several times dearer
        # in CPython 3.11): this runs for every message a guest sends.
        self._window_used += (size if size > MIN_READ_CHARGE
                              else MIN_READ_CHARGE)
        self.counters.bytes_in += size
        if size > SMALL_READ:
            started = self._cpu_clock()
            self._receive(data)
            self._charge(now, self._cpu_clock() - started)
        else:
            started = time.perf_counter()
            self._receive(data)
            spent = time.perf_counter() - started
            self._charge(now, spent if spent < SMALL_READ_MAX_CHARGE
                         else SMALL_READ_MAX_CHARGE)

    def _receive(self, data: bytes) -> None:
        received = self.session.receive(data)
        if received.replies:  # rare: a welcome or an error
            self._write(received.replies)
        for signal in received.signals:
            self._deliver(signal)
        if received.closed and self.state is ChannelState.CONNECTED:
            self._lost("end of stream")
        elif self._flush_timer is None:
            when = self.session.rejected_due()
            if when is not None:
                self._flush_timer = self._reactor.call_at(
                    when, self._flush_rejected)

    def _flush_rejected(self) -> None:
        """The one signal of the interval about invalid input held back."""
        self._flush_timer = None
        for signal in self.session.flush_rejected():
            self._deliver(signal)

    # -- the read budget ------------------------------------------------------

    def _budget_left(self, now: float) -> int:
        if now - self._window_start >= 1.0:
            self._window_start, self._window_used = now, 0
        return self._read_budget - self._window_used

    def _pause(self) -> None:
        self.counters.throttled += 1
        self._pause_until(self._window_start + 1.0)

    def _pause_until(self, when: float) -> None:
        self._paused = True
        self._watch()
        self._reactor.cancel(self._resume_timer)
        self._resume_timer = self._reactor.call_at(when, self._resume)

    # -- the CPU budget -------------------------------------------------------

    def _charge(self, now: float, seconds: float) -> None:
        """Charge ``seconds`` of CPU spent on a read that began at ``now``."""
        self.counters.cpu_seconds += seconds
        if self._cpu.charge(now, seconds) or self._sock is None:
            return
        self.counters.cpu_throttled += 1
        resume = self._cpu.resume_at(now)
        self._pause_until(resume)
        held = self._cpu_log.allow(now)
        if held is not None:
            LOG.warning("Instance %(label)s: the guest's input used up its "
                        "CPU budget (%(budget).1f ms a second); not reading "
                        "it for %(pause).2f s (%(n)d times in all, %(cpu).2f "
                        "s of CPU so far)", {
                            "label": self.label,
                            "budget": self._cpu.per_second * 1000,
                            "pause": resume - now,
                            "n": self.counters.cpu_throttled,
                            "cpu": self.counters.cpu_seconds})

    def _resume(self) -> None:
        self._resume_timer = None
        self._paused = False
        self._watch()

    # -- writing --------------------------------------------------------------

    def _write(self, data: typing.Optional[bytes]) -> None:
        if not data or self._sock is None:
            return
        if len(self._out) + len(data) > MAX_OUTGOING:
            self.counters.dropped_out += len(data)
            if self._overflow.allow(self._reactor.clock()) is not None:
                LOG.warning("Instance %(label)s: the guest does not read "
                            "its heartbeat channel; dropping what the host "
                            "sends it (%(n)d bytes so far)",
                            {"label": self.label,
                             "n": self.counters.dropped_out})
            return
        if self._out:
            # Behind bytes that wait for the socket: the selector says
            # when it takes more (see _flush).
            self._out += data
            return
        # The usual case: nothing waits, so the bytes go to the socket at
        # once, and only what it did not take is copied into the buffer.
        sent = self._send(data)
        if self._sock is not None and sent < len(data):
            self._out += data[sent:]
            self._watch()

    def _flush(self) -> None:
        if self._sock is None or not self._out:
            return
        sent = self._send(self._out)
        del self._out[:sent]
        if not self._out:
            self._watch()

    def _send(self, data: typing.Union[bytes, bytearray]) -> int:
        """How many bytes of ``data`` the socket took (0 if it ended)."""
        assert self._sock is not None
        try:
            sent = self._sock.send(data)
        except (BlockingIOError, InterruptedError):
            return 0
        except OSError as err:
            self._lost(err.strerror or str(err))
            return 0
        self.counters.bytes_out += sent
        return sent
