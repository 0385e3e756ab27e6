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
  suspend and re-arm judgement.
"""

from __future__ import annotations

import logging
import typing

from nova.compute import power_state
from nova import conf as nova_conf
from nova import exception as nova_exception
from nova import utils as nova_utils
from nova.virt.libvirt import driver as libvirt_driver
from nova.virt.libvirt import host as libvirt_host

from nova_vm_heartbeat import conf as heartbeat_conf
from nova_vm_heartbeat.conf import values
from nova_vm_heartbeat import exception
from nova_vm_heartbeat.monitor import signals as sig
from nova_vm_heartbeat.virt.assembly import NovaMonitor
from nova_vm_heartbeat.virt.awareness import Awareness
from nova_vm_heartbeat.virt.awareness import quiets
from nova_vm_heartbeat.virt import guest_config
from nova_vm_heartbeat.virt import specs

LOG = logging.getLogger(__name__)
CONF = nova_conf.CONF

L = sig.Lifecycle
Op = sig.Operation
#: The methods wrapped below are LibvirtDriver's own.
_Base: typing.Any = libvirt_driver.LibvirtDriver


class HeartbeatLibvirtDriver(libvirt_driver.LibvirtDriver):  # type: ignore[misc]  # noqa: E501
    """The libvirt driver, monitoring guests with ``hw:heartbeat=true``."""

    def __init__(self, virtapi: typing.Any, read_only: bool = False):
        super().__init__(virtapi, read_only)
        heartbeat_conf.register_opts(CONF)
        #: Tells the monitor what this driver does (while it runs).
        self.heartbeat_awareness = Awareness()
        self.heartbeat_monitor: typing.Optional[NovaMonitor] = None

    # -- the host -------------------------------------------------------------

    def init_host(self, host: str) -> None:
        super().init_host(host)
        self._start_monitor()

    def _start_monitor(self) -> None:
        """Start the monitor, or log why the host runs without one.

        The monitor must never keep nova-compute from running.
        """
        try:
            monitor = NovaMonitor(CONF, CONF.host, self.heartbeat_libvirt())
        except exception.HeartbeatException as err:
            LOG.error("Heartbeat monitoring is OFF on this host: %(err)s",
                      {"err": err})
            return
        try:
            monitor.start()
        except Exception:
            LOG.exception("Heartbeat monitoring is OFF on this host: the "
                          "monitor failed to start")
            monitor.stop()
            return
        assert monitor.monitor_service is not None
        assert monitor.nova_source is not None
        self.heartbeat_monitor = monitor
        self.heartbeat_awareness.attach(monitor.monitor_service.post,
                                        monitor.nova_source)

    def cleanup_host(self, host: str) -> None:
        monitor, self.heartbeat_monitor = self.heartbeat_monitor, None
        self.heartbeat_awareness.detach()
        if monitor is not None:
            monitor.stop()  # joins the threads, within a second or two
        super().cleanup_host(host)

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

    # -- the guest XML --------------------------------------------------------

    def _set_qemu_guest_agent(self, guest: typing.Any, flavor: typing.Any,
                              instance: typing.Any,
                              image_meta: typing.Any) -> None:
        super()._set_qemu_guest_agent(guest, flavor, instance, image_meta)
        extra_specs = flavor.extra_specs or {}
        if not specs.enabled(extra_specs):
            return
        try:
            path = guest_config.socket_path(CONF.heartbeat.socket_dir,
                                            instance.name)
        except guest_config.SocketPathTooLong as err:
            LOG.error("No heartbeat channel for instance %(uuid)s: %(err)s",
                      {"uuid": instance.uuid, "err": err})
            return
        guest.add_device(guest_config.channel(path))
        qga = bool(image_meta.properties.get("hw_qemu_guest_agent", False))
        guest.metadata.append(guest_config.HeartbeatMetadata(specs.settings(
            extra_specs, values.default_settings(CONF), qga)))

    # -- what libvirt and Nova do -------------------------------------------

    def emit_event(self, event: typing.Any) -> None:
        try:
            self.heartbeat_awareness.nova_event(event)
        except Exception:  # never in the way of Nova's own handling
            LOG.exception("Could not pass %(event)s to the heartbeat monitor",
                          {"event": event})
        super().emit_event(event)

    def spawn(self, context: typing.Any, instance: typing.Any,
              *args: typing.Any, **kwargs: typing.Any) -> None:
        super().spawn(context, instance, *args, **kwargs)
        self._arrived(instance, bool(kwargs.get("power_on", True)),
                      L.STARTED)

    def post_live_migration_at_destination(
            self, context: typing.Any, instance: typing.Any,
            *args: typing.Any, **kwargs: typing.Any) -> None:
        super().post_live_migration_at_destination(context, instance, *args,
                                                   **kwargs)
        self._arrived(instance, True, None)

    def post_live_migration_at_source(
            self, context: typing.Any, instance: typing.Any,
            *args: typing.Any, **kwargs: typing.Any) -> None:
        super().post_live_migration_at_source(context, instance, *args,
                                              **kwargs)
        uuid = str(instance.uuid)
        self.heartbeat_awareness.lifecycle(uuid, L.STOPPED, "nova:migrated")
        source = self.heartbeat_awareness.source
        if source is not None:
            source.remove(uuid)

    def finish_migration(self, context: typing.Any, migration: typing.Any,
                         instance: typing.Any, *args: typing.Any,
                         **kwargs: typing.Any) -> None:
        # On the destination, until the resize is confirmed (Nova's
        # vm_state "resized"), the instance is listed but not judged.
        with self.heartbeat_awareness.during(str(instance.uuid), Op.RESIZE):
            super().finish_migration(context, migration, instance, *args,
                                     **kwargs)
        self._arrived(instance, False, None)

    def finish_revert_migration(self, context: typing.Any,
                                instance: typing.Any, *args: typing.Any,
                                **kwargs: typing.Any) -> None:
        power_on = bool(kwargs.get("power_on", True))
        with self.heartbeat_awareness.during(
                str(instance.uuid), Op.RESIZE,
                L.STARTED if power_on else L.STOPPED):
            super().finish_revert_migration(context, instance, *args,
                                            **kwargs)

    def snapshot(self, context: typing.Any, instance: typing.Any,
                 *args: typing.Any, **kwargs: typing.Any) -> None:
        # A cold snapshot saves a running guest's memory and restores it
        # without going through resume(): say that it runs again. Ask the
        # hypervisor, not the instance record: shelving powers the guest
        # off before the snapshot without updating the record.
        running = self._domain_runs(instance)
        with self.heartbeat_awareness.during(
                str(instance.uuid), Op.SNAPSHOT,
                L.RESUMED if running else None):
            super().snapshot(context, instance, *args, **kwargs)

    def _domain_runs(self, instance: typing.Any) -> bool:
        try:
            state = self.get_info(instance).state
        except nova_exception.InstanceNotFound:
            return False
        return bool(state == power_state.RUNNING)

    def _arrived(self, instance: typing.Any, running: bool,
                 lifecycle: typing.Optional[sig.Lifecycle]) -> None:
        """``instance`` now lives here: list it, and say how it runs."""
        source = self.heartbeat_awareness.source
        if source is None:
            return
        try:
            source.add(instance, running)
        except Exception:  # never fail Nova's operation for the monitor
            LOG.exception("Instance %(uuid)s: could not read its flavor for"
                          " heartbeat monitoring; the next refresh will",
                          {"uuid": instance.uuid})
            return
        if lifecycle is not None:
            self.heartbeat_awareness.lifecycle(str(instance.uuid), lifecycle,
                                               "nova:arrived")

    # The operations that make a healthy guest go quiet (snapshot above).
    # Shelving is a power off, a snapshot and (offloading) a destroy;
    # resizing and cold migration start with migrate_disk_and_power_off.
    reboot = quiets(Op.REBOOT, L.STARTED)(_Base.reboot)
    power_off = quiets(Op.POWER_OFF, L.STOPPED)(_Base.power_off)
    power_on = quiets(Op.POWER_ON, L.STARTED)(_Base.power_on)
    resume_state_on_host_boot = quiets(Op.POWER_ON, L.STARTED)(
        _Base.resume_state_on_host_boot)
    pause = quiets(Op.PAUSE, L.PAUSED)(_Base.pause)
    unpause = quiets(Op.PAUSE, L.RESUMED)(_Base.unpause)
    suspend = quiets(Op.SUSPEND, L.STOPPED)(_Base.suspend)
    resume = quiets(Op.RESUME, L.RESUMED)(_Base.resume)
    rescue = quiets(Op.RESCUE, L.STOPPED)(_Base.rescue)
    unrescue = quiets(Op.RESCUE, L.STARTED)(_Base.unrescue)
    quiesce = quiets(Op.QUIESCE, ends=False)(_Base.quiesce)
    unquiesce = quiets(Op.QUIESCE, begins=False)(_Base.unquiesce)
    live_migration = quiets(Op.LIVE_MIGRATION)(_Base.live_migration)
    migrate_disk_and_power_off = quiets(Op.COLD_MIGRATION, L.STOPPED)(
        _Base.migrate_disk_and_power_off)
    set_admin_password = quiets(Op.SET_ADMIN_PASSWORD)(
        _Base.set_admin_password)
    destroy = quiets(Op.DESTROY, L.STOPPED)(_Base.destroy)
