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

"""``HeartbeatLibvirtDriver``: Nova's libvirt driver, with heartbeats.

Set ``[DEFAULT] compute_driver = heartbeat_libvirt.HeartbeatLibvirtDriver``
(Nova imports ``nova.virt.<compute_driver>``; the shim
``nova/virt/heartbeat_libvirt.py`` of this package imports this class).
Everything of the libvirt driver stays; on top:

* flavors with ``hw:heartbeat=true`` get the heartbeat channel and our
  settings metadata in their guest XML (:mod:`.guest_config`), next to the
  QEMU guest agent channel Nova adds for ``hw_qemu_guest_agent``;
* the monitor (:mod:`.assembly`) starts with the host in
  :meth:`init_host` and stops, joined, in :meth:`cleanup_host`, on threads
  of its own: never Nova's pools, never eventlet;
* libvirt's lifecycle events (:meth:`emit_event`) and the driver
  operations that make a healthy guest go quiet (:mod:`.awareness`)
  suspend and re-arm judgement; a libvirt connection that comes back
  makes every monitor forgive what went unobserved;
* libvirt, not Nova's database, says which domains run
  (:meth:`heartbeat_running_domains`).

Every wrapped method reads its arguments the way the parent method
receives them (:func:`.awareness.arguments`): Nova's manager passes many
of them positionally.
"""

from __future__ import annotations

import functools
import logging
import typing

from nova.compute import power_state
from nova.compute import task_states
from nova import conf as nova_conf
from nova import exception as nova_exception
from nova import utils as nova_utils
from nova.virt.libvirt import driver as libvirt_driver
from nova.virt.libvirt import host as libvirt_host
from nova.virt.libvirt import utils as libvirt_utils

from nova_vm_heartbeat import conf as heartbeat_conf
from nova_vm_heartbeat.conf import values
from nova_vm_heartbeat import exception
from nova_vm_heartbeat.monitor import signals as sig
from nova_vm_heartbeat.virt import assembly
from nova_vm_heartbeat.virt.awareness import arguments
from nova_vm_heartbeat.virt.awareness import Awareness
from nova_vm_heartbeat.virt.awareness import quiets
from nova_vm_heartbeat.virt import checks
from nova_vm_heartbeat.virt import guest_config
from nova_vm_heartbeat.virt import live_migration
from nova_vm_heartbeat.virt import specs

LOG = logging.getLogger(__name__)
CONF = nova_conf.CONF

L = sig.Lifecycle
Op = sig.Operation
#: The methods wrapped below are LibvirtDriver's own.
_Base: typing.Any = libvirt_driver.LibvirtDriver


def _crash_aware(callback: typing.Callable[..., None],
                 ) -> typing.Callable[..., None]:
    """Nova's libvirt lifecycle callback, passing "crashed" on too.

    It runs on libvirt's native event thread, where only libvirt calls and
    Nova's event queue may be used: the crash is queued as an event, which
    Nova's dispatcher hands to :meth:`HeartbeatLibvirtDriver.emit_event`.
    """
    def lifecycle(conn: typing.Any, dom: typing.Any, event: int,
                  detail: int, opaque: typing.Any) -> None:
        if event == guest_config.EVENT_CRASHED:
            opaque._event_handler._queue_event(
                guest_config.GuestCrashedEvent(dom.UUIDString()))
        callback(conn, dom, event, detail, opaque)
    return lifecycle


def _parent(name: str) -> typing.Callable[..., typing.Any]:
    """LibvirtDriver's method ``name``, looked up when it is called.

    Like ``super()``: whatever LibvirtDriver holds at call time runs (a
    test may replace it, as Nova's own tests replace
    ``migrate_disk_and_power_off``); its signature is the real one, for
    :func:`.awareness.arguments`.
    """
    def call(self: typing.Any, *args: typing.Any,
             **kwargs: typing.Any) -> typing.Any:
        return getattr(super(HeartbeatLibvirtDriver, self), name)(
            *args, **kwargs)
    return functools.wraps(getattr(_Base, name))(call)


class HeartbeatLibvirtDriver(libvirt_driver.LibvirtDriver):  # type: ignore[misc]  # noqa: E501
    """The libvirt driver, monitoring guests with ``hw:heartbeat=true``."""

    def __init__(self, virtapi: typing.Any, read_only: bool = False):
        super().__init__(virtapi, read_only)
        heartbeat_conf.register_opts(CONF)
        #: Tells the monitor what this driver does (while it runs).
        self.heartbeat_awareness = Awareness()
        self.heartbeat_monitor: typing.Optional[assembly.NovaMonitor] = None
        self._host._event_lifecycle_callback = _crash_aware(
            self._host._event_lifecycle_callback)

    # -- the host -------------------------------------------------------------

    def init_host(self, host: str) -> None:
        super().init_host(host)
        self._start_monitor()

    def _start_monitor(self) -> None:
        """Start the monitor, or log why the host runs without one.

        The monitor must never keep nova-compute from running: any error
        is logged at ERROR and the host runs unmonitored.
        """
        try:
            checks.log_misconfiguration(CONF)
            monitor = assembly.build(CONF, CONF.host,
                                     self.heartbeat_libvirt(),
                                     running=self.heartbeat_running_domains)
        except exception.HeartbeatException as err:
            LOG.error("Heartbeat monitoring is OFF on this host: %(err)s",
                      {"err": err})
            return
        except Exception:
            LOG.exception("Heartbeat monitoring is OFF on this host: the "
                          "monitor could not be built")
            return
        try:
            monitor.start()
        except Exception:
            LOG.exception("Heartbeat monitoring is OFF on this host: the "
                          "monitor failed to start")
            monitor.stop()
            return
        service = monitor.service
        self.heartbeat_monitor = monitor
        self.heartbeat_awareness.attach(service.post, monitor.source,
                                        service.admit)

    def cleanup_host(self, host: str) -> None:
        monitor, self.heartbeat_monitor = self.heartbeat_monitor, None
        self.heartbeat_awareness.detach()
        if monitor is not None:
            monitor.stop()  # joins the threads, within a second or two
        super().cleanup_host(host)

    def _handle_conn_event(self, enabled: bool, reason: str) -> None:
        super()._handle_conn_event(enabled, reason)
        monitor = self.heartbeat_monitor
        if enabled and monitor is not None:
            # What libvirt could not tell while it was away (lifecycle
            # events, QGA answers) must not count against a guest.
            monitor.service.forgive_all()

    def heartbeat_libvirt(self) -> typing.Optional[typing.Tuple[
            typing.Any, str]]:
        """The libvirt module and URI the monitor may use, if any.

        In eventlet mode a blocking libvirt call on the monitor's threads
        would stall all of nova-compute, so the monitor then uses the
        heartbeat channel only (no QEMU guest agent challenges, no domain
        statistics).
        """
        if not nova_utils.concurrency_mode_threading():
            LOG.warning("nova-compute runs on eventlet: heartbeat monitoring"
                        " uses the heartbeat channel only (no QEMU guest "
                        "agent challenges or domain statistics)")
            return None
        return libvirt_host.libvirt, self._uri()

    def heartbeat_running_domains(self) -> typing.Set[str]:
        """The uuids of the domains that run now, as libvirt says.

        Paused, crashed and shut off domains do not run. Called from the
        monitor's host thread; Nova's own connection is used (proxied
        through eventlet's thread pool in eventlet mode).
        """
        return {guest.uuid for guest in self._host.list_guests(
            only_running=True)
            if guest.get_power_state(self._host) == power_state.RUNNING}

    # -- live migration -------------------------------------------------------

    def get_available_resource(self, nodename: str) -> typing.Any:
        data = super().get_available_resource(nodename)
        # The destination of a live migration compares it with its own.
        data.setdefault("stats", {})[live_migration.STAT] = \
            CONF.heartbeat.socket_dir
        return data

    def check_can_live_migrate_destination(
            self, *args: typing.Any, **kwargs: typing.Any) -> typing.Any:
        given = arguments(_Base.check_can_live_migrate_destination, self,
                          args, kwargs)
        instance = given["instance"]
        if specs.enabled(instance.flavor.extra_specs or {}):
            reason = live_migration.refusal(
                (given["src_compute_info"] or {}).get("stats"),
                CONF.heartbeat.socket_dir)
            if reason is not None:
                LOG.error("Instance %(uuid)s may not live migrate to this "
                          "host: %(reason)s",
                          {"uuid": instance.uuid, "reason": reason})
                raise nova_exception.MigrationPreCheckError(reason=reason)
        return super().check_can_live_migrate_destination(*args, **kwargs)

    # -- the guest XML --------------------------------------------------------

    def _set_qemu_guest_agent(self, guest: typing.Any, flavor: typing.Any,
                              instance: typing.Any,
                              image_meta: typing.Any) -> None:
        super()._set_qemu_guest_agent(guest, flavor, instance, image_meta)
        extra_specs = flavor.extra_specs or {}
        if not specs.enabled(extra_specs):
            return
        if instance.task_state == task_states.RESCUING:
            return  # the rescue image runs no agent of ours
        try:
            path = guest_config.socket_path(CONF.heartbeat.socket_dir,
                                            instance.name)
        except guest_config.SocketPathTooLong as err:
            LOG.error("No heartbeat channel for instance %(uuid)s: %(err)s",
                      {"uuid": instance.uuid, "err": err})
            return
        guest.add_device(guest_config.channel(path))
        self._add_panic_device(guest, extra_specs, instance, image_meta)
        qga = bool(image_meta.properties.get("hw_qemu_guest_agent", False))
        guest.metadata.append(guest_config.HeartbeatMetadata(specs.settings(
            extra_specs, values.default_settings(CONF), qga)))

    @staticmethod
    def _add_panic_device(guest: typing.Any,
                          extra_specs: typing.Mapping[str, str],
                          instance: typing.Any, image_meta: typing.Any,
                          ) -> None:
        """Add a pvpanic device unless operator, flavor or image say no."""
        if not specs.panic_wanted(extra_specs, instance.system_metadata or {},
                                  CONF.heartbeat.panic_device):
            return
        if libvirt_utils.get_arch(image_meta) not in \
                guest_config.ISA_PANIC_ARCHES:
            return  # only x86's ISA pvpanic is known here
        if not any(getattr(d, "root_name", "") == "panic"
                   for d in guest.devices):
            guest.add_device(guest_config.PanicDevice())

    # -- what libvirt and Nova do -------------------------------------------

    def emit_event(self, event: typing.Any) -> None:
        try:
            self.heartbeat_awareness.nova_event(event)
        except Exception:  # never in the way of Nova's own handling
            LOG.exception("Could not pass %(event)s to the heartbeat monitor",
                          {"event": event})
        super().emit_event(event)

    def spawn(self, *args: typing.Any, **kwargs: typing.Any) -> None:
        given = arguments(_Base.spawn, self, args, kwargs)
        super().spawn(*args, **kwargs)
        power_on = bool(given["power_on"])
        self._arrived(given["instance"], power_on, power_on,
                      L.STARTED if power_on else None)

    def post_live_migration_at_destination(
            self, *args: typing.Any, **kwargs: typing.Any) -> None:
        given = arguments(_Base.post_live_migration_at_destination, self,
                          args, kwargs)
        super().post_live_migration_at_destination(*args, **kwargs)
        self._arrived(given["instance"], True, False, None)

    def post_live_migration_at_source(
            self, *args: typing.Any, **kwargs: typing.Any) -> None:
        given = arguments(_Base.post_live_migration_at_source, self, args,
                          kwargs)
        super().post_live_migration_at_source(*args, **kwargs)
        uuid = str(given["instance"].uuid)
        self.heartbeat_awareness.lifecycle(uuid, L.STOPPED, "nova:migrated")
        source = self.heartbeat_awareness.source
        if source is not None:
            source.remove(uuid)

    def finish_migration(self, *args: typing.Any,
                         **kwargs: typing.Any) -> None:
        # On the destination: a new boot, judged at once, confirmed or not
        # (see source.RUNNING_VM_STATES), or stopped if it was stopped.
        given = arguments(_Base.finish_migration, self, args, kwargs)
        instance, power_on = given["instance"], bool(given["power_on"])
        with self.heartbeat_awareness.during(str(instance.uuid), Op.RESIZE):
            super().finish_migration(*args, **kwargs)
        self._arrived(instance, power_on, power_on,
                      L.STARTED if power_on else L.STOPPED)

    def finish_revert_migration(self, *args: typing.Any,
                                **kwargs: typing.Any) -> None:
        # Back on the source host: monitored again at once, as it runs.
        given = arguments(_Base.finish_revert_migration, self, args, kwargs)
        instance, power_on = given["instance"], bool(given["power_on"])
        with self.heartbeat_awareness.during(str(instance.uuid), Op.RESIZE):
            super().finish_revert_migration(*args, **kwargs)
        self._arrived(instance, power_on, power_on,
                      L.STARTED if power_on else L.STOPPED)

    def snapshot(self, *args: typing.Any, **kwargs: typing.Any) -> None:
        # A cold snapshot saves a running guest's memory and restores it
        # without going through resume(): say that it runs again. Ask the
        # hypervisor, not the instance record: shelving powers the guest
        # off before the snapshot without updating the record.
        instance = arguments(_Base.snapshot, self, args, kwargs)["instance"]
        running = self._domain_runs(instance)
        with self.heartbeat_awareness.during(
                str(instance.uuid), Op.SNAPSHOT,
                L.RESUMED if running else None):
            super().snapshot(*args, **kwargs)

    def rescue(self, *args: typing.Any, **kwargs: typing.Any) -> None:
        # The rescue domain runs a rescue image, not the guest: libvirt's
        # STARTED for it (usually after rescue() returned) is held back
        # until unrescue.
        uuid = str(arguments(_Base.rescue, self, args, kwargs)[
            "instance"].uuid)
        self.heartbeat_awareness.hold(uuid)
        try:
            with self.heartbeat_awareness.during(uuid, Op.RESCUE, L.STOPPED):
                super().rescue(*args, **kwargs)
        except BaseException:
            self.heartbeat_awareness.release(uuid)
            raise

    def unrescue(self, *args: typing.Any, **kwargs: typing.Any) -> None:
        uuid = str(arguments(_Base.unrescue, self, args, kwargs)[
            "instance"].uuid)
        self.heartbeat_awareness.release(uuid)
        with self.heartbeat_awareness.during(uuid, Op.RESCUE, L.STARTED):
            super().unrescue(*args, **kwargs)

    def _domain_runs(self, instance: typing.Any) -> bool:
        try:
            state = self.get_info(instance).state
        except nova_exception.InstanceNotFound:
            return False
        return bool(state == power_state.RUNNING)

    def _arrived(self, instance: typing.Any, running: bool, spawned: bool,
                 lifecycle: typing.Optional[sig.Lifecycle]) -> None:
        """``instance`` now lives here: monitor it, and say how it runs."""
        try:
            self.heartbeat_awareness.arrived(instance, running, spawned,
                                             lifecycle)
        except Exception:  # never fail Nova's operation for the monitor
            LOG.exception("Instance %(uuid)s: could not read its flavor for"
                          " heartbeat monitoring; the next refresh will",
                          {"uuid": instance.uuid})

    # The operations that make a healthy guest go quiet (snapshot and
    # rescue above). Shelving is a power off, a snapshot and (offloading)
    # a destroy; resizing and cold migration start with
    # migrate_disk_and_power_off; rebuilding is a destroy and a spawn.
    reboot = quiets(Op.REBOOT, L.STARTED)(_parent("reboot"))
    power_off = quiets(Op.POWER_OFF, L.STOPPED)(_parent("power_off"))
    power_on = quiets(Op.POWER_ON, L.STARTED)(_parent("power_on"))
    resume_state_on_host_boot = quiets(Op.POWER_ON, L.STARTED)(
        _parent("resume_state_on_host_boot"))
    pause = quiets(Op.PAUSE, L.PAUSED)(_parent("pause"))
    unpause = quiets(Op.PAUSE, L.RESUMED)(_parent("unpause"))
    suspend = quiets(Op.SUSPEND, L.STOPPED)(_parent("suspend"))
    resume = quiets(Op.RESUME, L.RESUMED)(_parent("resume"))
    quiesce = quiets(Op.QUIESCE, ends=False)(_parent("quiesce"))
    unquiesce = quiets(Op.QUIESCE, begins=False)(_parent("unquiesce"))
    live_migration = quiets(Op.LIVE_MIGRATION)(_parent("live_migration"))
    migrate_disk_and_power_off = quiets(Op.COLD_MIGRATION, L.STOPPED)(
        _parent("migrate_disk_and_power_off"))
    set_admin_password = quiets(Op.SET_ADMIN_PASSWORD)(
        _parent("set_admin_password"))
    destroy = quiets(Op.DESTROY, L.STOPPED)(_parent("destroy"))
