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
from nova_vm_heartbeat.virt.source import NovaInstanceSource

LOG = logging.getLogger(__name__)

L = sig.Lifecycle
Op = sig.Operation
Post = typing.Callable[[str, sig.Signal], None]

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
        self.source: typing.Optional[NovaInstanceSource] = None

    def attach(self, post: Post, source: NovaInstanceSource) -> None:
        """The monitor started: tell it from now on."""
        self.source = source
        self._post = post

    def detach(self) -> None:
        """The monitor stops: tell nobody."""
        self._post = None
        self.source = None

    def post(self, uuid: str, signal: sig.Signal) -> None:
        post = self._post
        if post is not None:
            post(uuid, signal)

    def lifecycle(self, uuid: str, lifecycle: sig.Lifecycle,
                  detail: str) -> None:
        """The domain of ``uuid`` went through ``lifecycle``."""
        source = self.source
        runs = sig.RUNS_AFTER.get(lifecycle)
        if source is not None and runs is not None:
            source.observed(uuid, runs)
        self.post(uuid, sig.DomainEvent(lifecycle, detail))

    def nova_event(self, event: virtevent.InstanceEvent) -> None:
        """A lifecycle event libvirt gave Nova (any other is ignored)."""
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


def quiets(operation: sig.Operation,
           after: typing.Optional[sig.Lifecycle] = None, *,
           begins: bool = True, ends: bool = True,
           ) -> typing.Callable[[Method], Method]:
    """Wrap a driver method in :meth:`Awareness.during`.

    The method's ``instance`` argument names the instance, wherever the
    caller puts it.
    """
    def wrap(method: Method) -> Method:
        signature = inspect.signature(method)

        @functools.wraps(method)
        def wrapper(self: _Aware, *args: typing.Any,
                    **kwargs: typing.Any) -> typing.Any:
            bound = signature.bind(self, *args, **kwargs)
            uuid = str(bound.arguments["instance"].uuid)
            with self.heartbeat_awareness.during(
                    uuid, operation, after, begins=begins, ends=ends):
                return method(self, *args, **kwargs)
        return wrapper
    return wrap
