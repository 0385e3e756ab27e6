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

"""What Nova does to an instance, told to the monitor.

The driver knows first hand when it reboots, pauses, snapshots or migrates
an instance: a healthy guest may then go quiet. :class:`Awareness` turns
that into monitor signals: an operation suspends judgement of the instance
(:class:`~nova_vm_heartbeat.monitor.signals.OperationStarted`; the monitor
caps every suspension at ``[heartbeat] max_operation``) and, when it ends,
re-arms it with a grace period (``OperationFinished``). An operation that
leaves the domain stopped, paused or freshly started also says so, as
libvirt would, so that the monitor does not wait for libvirt's event (Nova
delays STOPPED by 15 seconds). It also feeds libvirt's lifecycle events,
which reach the driver through ``emit_event``, to the monitor and to the
instance source.

Two of Nova's facts are kept here because libvirt's events contradict
them: a rescued instance runs a rescue image, not the guest (libvirt's
STARTED for the rescue domain, which usually lands after ``rescue()``
returned, must not make it judged), and an operation whose end is never
seen ends at its own cap (:data:`OPERATION_CAPS`).

Everything here runs on Nova's threads (API workers, the libvirt event
thread): it only posts to the monitor, which never blocks.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import logging
import typing

from nova.virt import event as virtevent

from nova_vm_heartbeat.monitor import signals as sig
from nova_vm_heartbeat.sources.base import InstanceInfo
from nova_vm_heartbeat.virt import guest_config
from nova_vm_heartbeat.virt.source import NovaInstanceSource

LOG = logging.getLogger(__name__)

L = sig.Lifecycle
Op = sig.Operation
Post = typing.Callable[[str, sig.Signal], None]
Admit = typing.Callable[[InstanceInfo], None]

#: The longest, in seconds, each operation suspends judgement when its end
#: is never seen; ``[heartbeat] max_operation`` caps these and the ones not
#: listed (snapshots, migrations, resizes: they take as long as the disk
#: and memory to copy). Nova gives a guest ``[DEFAULT] shutdown_timeout``
#: (60 s) to shut down, a soft reboot 120 s before it reboots hard.
OPERATION_CAPS: typing.Dict[sig.Operation, float] = {
    Op.REBOOT: 900.0,
    Op.POWER_OFF: 600.0,
    Op.POWER_ON: 600.0,
    Op.PAUSE: 300.0,
    Op.SUSPEND: 1800.0,
    Op.RESUME: 1800.0,
    Op.RESCUE: 900.0,
    Op.QUIESCE: 1800.0,
    Op.SET_ADMIN_PASSWORD: 300.0,
    Op.DESTROY: 600.0,
}

#: Nova's lifecycle transitions, as the monitor sees them. Nova's
#: "suspended" is a libvirt pause (managed save shows as STOPPED).
NOVA_EVENTS: typing.Dict[int, sig.Lifecycle] = {
    virtevent.EVENT_LIFECYCLE_STARTED: L.STARTED,
    virtevent.EVENT_LIFECYCLE_STOPPED: L.STOPPED,
    virtevent.EVENT_LIFECYCLE_PAUSED: L.PAUSED,
    virtevent.EVENT_LIFECYCLE_RESUMED: L.RESUMED,
    virtevent.EVENT_LIFECYCLE_SUSPENDED: L.PAUSED,
    virtevent.EVENT_LIFECYCLE_POSTCOPY_STARTED: L.PAUSED,
    virtevent.EVENT_LIFECYCLE_MIGRATION_COMPLETED: L.STOPPED,
}


class Awareness:
    """Posts what the driver does to the running monitor, if any."""

    def __init__(self) -> None:
        self._post: typing.Optional[Post] = None
        self._admit: typing.Optional[Admit] = None
        self.source: typing.Optional[NovaInstanceSource] = None
        #: Instances whose domain runs something else than the guest
        #: (a rescue image): libvirt's "it runs" does not count for them.
        self._held: typing.Set[str] = set()

    def attach(self, post: Post, source: NovaInstanceSource,
               admit: typing.Optional[Admit] = None) -> None:
        """The monitor started: tell it from now on."""
        self.source = source
        self._admit = admit
        self._post = post

    def detach(self) -> None:
        """The monitor stops: tell nobody."""
        self._post = None
        self._admit = None
        self.source = None

    def hold(self, uuid: str) -> None:
        """The domain of ``uuid`` is about to run a rescue image."""
        self._held.add(uuid)

    def release(self, uuid: str) -> None:
        """The domain of ``uuid`` runs the guest again (or not at all)."""
        self._held.discard(uuid)

    def arrived(self, instance: typing.Any, running: bool, spawned: bool,
                lifecycle: typing.Optional[sig.Lifecycle]) -> None:
        """``instance`` now lives here: monitor it at once.

        :param running: whether it is to be judged now.
        :param spawned: its domain just booted (the boot grace starts).
        :param lifecycle: the state its domain is in, if the driver knows.
        :raises Exception: whatever reading the instance's flavor raises.
        """
        source = self.source
        if source is None:
            return
        uuid = str(instance.uuid)
        self.release(uuid)
        info = source.add(instance, running, spawned)
        admit = self._admit
        if info is not None and admit is not None:
            admit(info)
        if lifecycle is not None:
            self.lifecycle(uuid, lifecycle, "nova:arrived")

    def post(self, uuid: str, signal: sig.Signal) -> None:
        post = self._post
        if post is not None:
            post(uuid, signal)

    def lifecycle(self, uuid: str, lifecycle: sig.Lifecycle,
                  detail: str) -> None:
        """The domain of ``uuid`` went through ``lifecycle``."""
        if uuid in self._held and sig.RUNS_AFTER.get(lifecycle):
            LOG.debug("Instance %(uuid)s runs a rescue image: %(event)s "
                      "(%(detail)s) does not make it judged",
                      {"uuid": uuid, "event": lifecycle.value,
                       "detail": detail})
            return
        source = self.source
        runs = sig.RUNS_AFTER.get(lifecycle)
        if source is not None and runs is not None:
            source.observed(uuid, runs)
        self.post(uuid, sig.DomainEvent(lifecycle, detail))

    def nova_event(self, event: virtevent.InstanceEvent) -> None:
        """A lifecycle event libvirt gave Nova (any other is ignored)."""
        if isinstance(event, guest_config.GuestCrashedEvent):
            self.lifecycle(str(event.uuid), L.CRASHED, "libvirt:crashed")
            return
        if not isinstance(event, virtevent.LifecycleEvent):
            return
        lifecycle = NOVA_EVENTS.get(event.transition)
        if lifecycle is not None:
            self.lifecycle(str(event.uuid), lifecycle,
                           "nova:%s" % event.get_name())

    @contextlib.contextmanager
    def during(self, uuid: str, operation: sig.Operation,
               after: typing.Optional[sig.Lifecycle] = None, *,
               begins: bool = True,
               ends: bool = True) -> typing.Iterator[None]:
        """Suspend judgement of ``uuid`` while the block runs.

        :param after: the lifecycle the domain is in when the block
            succeeded.
        :param begins: the block starts the operation.
        :param ends: the block ends it (``quiesce`` starts what
            ``unquiesce`` ends). A block that raises always ends it.
        """
        if begins:
            self.post(uuid, sig.OperationStarted(operation))
        try:
            yield
        except BaseException:
            self.post(uuid, sig.OperationFinished(operation))
            raise
        if after is not None:
            self.lifecycle(uuid, after, "nova:" + operation.value)
        if ends:
            self.post(uuid, sig.OperationFinished(operation))


class _Aware(typing.Protocol):
    heartbeat_awareness: Awareness


Method = typing.Callable[..., typing.Any]


@functools.lru_cache(maxsize=None)
def _signature(method: Method) -> inspect.Signature:
    return inspect.signature(method)


def arguments(method: Method, self: typing.Any,
              args: typing.Sequence[typing.Any],
              kwargs: typing.Mapping[str, typing.Any],
              ) -> typing.Dict[str, typing.Any]:
    """The arguments ``method`` receives from this call, by name.

    Defaults included; wherever the caller put them (Nova's manager
    passes ``power_on``, ``instance`` and others positionally).

    :raises TypeError: the call does not fit the method.
    """
    bound = _signature(method).bind(self, *args, **kwargs)
    bound.apply_defaults()
    return dict(bound.arguments)


def quiets(operation: sig.Operation,
           after: typing.Optional[sig.Lifecycle] = None, *,
           begins: bool = True, ends: bool = True,
           ) -> typing.Callable[[Method], Method]:
    """Wrap a driver method in :meth:`Awareness.during`.

    The method's ``instance`` argument names the instance, wherever the
    caller puts it.
    """
    def wrap(method: Method) -> Method:
        @functools.wraps(method)
        def wrapper(self: _Aware, *args: typing.Any,
                    **kwargs: typing.Any) -> typing.Any:
            uuid = str(arguments(method, self, args, kwargs)[
                "instance"].uuid)
            with self.heartbeat_awareness.during(
                    uuid, operation, after, begins=begins, ends=ends):
                return method(self, *args, **kwargs)
        return wrapper
    return wrap
