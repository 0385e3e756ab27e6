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

"""The base of the Nova tier's tests: a libvirt compute with our driver.

Nova's ``ServersTestBase`` gives the real API, conductor, scheduler,
placement and a compute on fake libvirt, in-process. On top:

* the compute driver is ``heartbeat_libvirt.HeartbeatLibvirtDriver``,
  loaded through our shim by Nova's own ``load_compute_driver``;
* ``[heartbeat]`` options that judge within seconds, heartbeat sockets
  in a temporary directory, and guests played by :mod:`.qemu`;
* the monitor runs with the heartbeat channel only: the fake libvirt has
  no ``open()`` or agent commands for the monitor's own connection, so
  :meth:`HeartbeatLibvirtDriver.heartbeat_libvirt` says "no libvirt";
* fakelibvirt's ``XMLDesc`` keeps the channels and the panic device the
  domain was defined with, as libvirt does (:func:`kept_devices`): Nova
  reads that XML back at rescue, and creates it again at unrescue;
* the harness delivers no libvirt lifecycle events, so tests inject them
  (:meth:`HeartbeatTestBase.inject`);
* every monitor is stopped and joined when the test ends (Nova stops its
  services in the background, with no timeout, in tests).
"""

from __future__ import annotations

import copy
import os
import shutil
import sys
import tempfile
import threading
import time
import typing
import xml.etree.ElementTree as etree

import fixtures
from nova import conf as nova_conf
from nova.tests.fixtures import libvirt as fakelibvirt
from nova.tests.functional.libvirt import base as libvirt_base
from nova.virt import event as virtevent
from oslo_utils.fixture import uuidsentinel as uuids

from nova_vm_heartbeat import conf as heartbeat_conf
from nova_vm_heartbeat.monitor.machine import MonitorState
from nova_vm_heartbeat.virt import driver as hb_driver
from nova_vm_heartbeat.virt import guest_config
from tests.functional_nova import qemu

CONF = nova_conf.CONF
DRIVER = "heartbeat_libvirt.HeartbeatLibvirtDriver"
LOST = "instance.heartbeat_lost"
RESTORED = "instance.heartbeat_restored"
#: The longest any single wait lasts.
WAIT = 20.0
#: Flavor settings: a lost heartbeat after about 2 s of silence.
HEARTBEAT_SPECS = {
    "hw:heartbeat": "true", "hw:heartbeat_interval": "1",
    "hw:heartbeat_timeout": "1", "hw:heartbeat_failure_threshold": "2",
    "hw:heartbeat_boot_grace": "20",
}
#: How long a quiet guest takes to be judged lost, with some margin.
JUDGED_WITHIN = 4.0
#: Every thread of ours is named heartbeat-*.
HEARTBEAT_THREADS = "heartbeat-"


def _no_libvirt(self: typing.Any) -> None:
    return None


#: The devices of a defined domain that fakelibvirt's XMLDesc leaves out.
KEPT_DEVICES = ("channel", "panic")


def kept_devices(described: str, defined: str) -> str:
    """``described`` with the channels and panic device of ``defined``."""
    if not defined:
        return described
    root = etree.fromstring(described)
    devices = root.find("devices")
    if devices is None:
        devices = etree.SubElement(root, "devices")
    definition = etree.fromstring(defined)
    for tag in KEPT_DEVICES:
        for device in definition.iterfind("devices/" + tag):
            devices.append(device)
    return etree.tostring(root, encoding="unicode")


class HeartbeatTestBase(libvirt_base.ServersTestBase):  # type: ignore[misc]
    """Servers on a compute that runs HeartbeatLibvirtDriver."""

    ADMIN_API = True
    microversion = "latest"

    def setUp(self) -> None:
        # The nova wheel installs api-paste.ini under the environment's
        # prefix, not where Nova's test configuration looks for it.
        self.flags(api_paste_config=os.path.join(
            sys.prefix, "etc", "nova", "api-paste.ini"), group="wsgi")
        super().setUp()
        heartbeat_conf.register_opts(CONF)
        # A short directory: a UNIX socket path holds 107 bytes.
        self.socket_dir = tempfile.mkdtemp(prefix="hb", dir="/tmp")
        self.addCleanup(shutil.rmtree, self.socket_dir, True)
        self.flags(group="heartbeat", socket_dir=self.socket_dir,
                   refresh_interval=1.0, conductor_interval=2.0,
                   reconnect_max=0.5,
                   min_failure_threshold=1, min_boot_grace=1.0,
                   rearm_grace=1.0, state_file=os.path.join(
                       self.socket_dir, "episodes.json"))
        self.flags(group="heartbeat_sink", nova_outbox_dir=os.path.join(
            self.socket_dir, "outbox"))
        # The admin socket is served inside nova-compute too: one per test.
        self.flags(group="heartbeat_admin", socket_group="",
                   socket_path=os.path.join(self.socket_dir, "admin.sock"))
        self.useFixture(fixtures.MonkeyPatch(
            "nova_vm_heartbeat.virt.driver.HeartbeatLibvirtDriver."
            "heartbeat_libvirt", _no_libvirt))
        self.guests = self.useFixture(qemu.GuestFixture(self.socket_dir))
        self.xml: typing.Dict[str, str] = {}
        self._record_guest_xml()
        self._keep_our_devices()
        self.image_id = self._qga_image()

    def _setup_compute_service(self) -> None:
        self.flags(compute_driver=DRIVER)

    def start_compute(self, hostname: str = "compute1",
                      *args: typing.Any, **kwargs: typing.Any) -> str:
        name = super().start_compute(hostname, *args, **kwargs)
        driver = self.computes[name].driver
        self.assertIsInstance(driver, hb_driver.HeartbeatLibvirtDriver)
        self.addCleanup(self._stop_monitor, driver)
        return str(name)

    def restart_compute(self, host: str = "compute1") -> None:
        """nova-compute restarts; libvirt's domains live on.

        The old monitor is stopped first, as it dies with its process
        (Nova's harness would stop it in the background).
        """
        self._stop_monitor(self.driver(host))
        self.restart_compute_service(host)

    def domain(self, server: typing.Dict[str, typing.Any],
               host: str = "compute1") -> typing.Any:
        """The fake libvirt domain of ``server`` on ``host``."""
        return self.driver(host)._host.get_connection().lookupByUUIDString(
            server["id"])

    @staticmethod
    def _stop_monitor(driver: hb_driver.HeartbeatLibvirtDriver) -> None:
        monitor, driver.heartbeat_monitor = driver.heartbeat_monitor, None
        driver.heartbeat_awareness.detach()
        if monitor is not None:
            monitor.stop()

    def _record_guest_xml(self) -> None:
        """Keep the XML each guest is created with.

        fakelibvirt's ``XMLDesc`` renders its own template without the
        channels, so the XML is taken where the driver hands it over.
        """
        from nova.virt.libvirt import guest as libvirt_guest
        original = libvirt_guest.Guest.create

        def create(cls: typing.Any, xml: str, host: typing.Any) -> typing.Any:
            guest = original(xml, host)
            self.xml[guest.uuid] = xml
            return guest

        self.useFixture(fixtures.MonkeyPatch(
            "nova.virt.libvirt.guest.Guest.create", classmethod(create)))

    def _keep_our_devices(self) -> None:
        """Make fakelibvirt's ``XMLDesc`` keep our devices, as libvirt does.

        fakelibvirt renders a domain's XML from its own template, which
        has no channels and no panic device. Nova reads that XML back
        (rescue saves it as ``unrescue.xml``, which unrescue then
        creates), so each domain's defined XML is kept where libvirt
        hands it over (``defineXML``, ``createXML``) and its channels and
        panic device are put back into what ``XMLDesc`` returns.
        """
        domain = fakelibvirt.Domain
        parse, describe = domain._parse_definition, domain.XMLDesc

        def _parse_definition(dom: typing.Any, xml: str) -> typing.Any:
            dom.heartbeat_defined_xml = xml
            return parse(dom, xml)

        def xml_desc(dom: typing.Any, flags: int) -> str:
            return kept_devices(describe(dom, flags),
                                getattr(dom, "heartbeat_defined_xml", ""))

        self.useFixture(fixtures.MonkeyPatch(
            "nova.tests.fixtures.libvirt.Domain._parse_definition",
            _parse_definition))
        self.useFixture(fixtures.MonkeyPatch(
            "nova.tests.fixtures.libvirt.Domain.XMLDesc", xml_desc))

    def keep_running_when_undefined(self) -> None:
        """Undefine and define a running domain as libvirt does.

        libvirt keeps a running domain that is undefined (it becomes
        transient) and, when it is defined again, takes the new
        definition without stopping it. fakelibvirt forgets the domain
        at the undefine, and its ``defineXML`` makes a new, shut off one.
        Nova's live snapshot does both (``_live_snapshot``: the block
        copy needs a transient domain).
        """
        undefine, define = fakelibvirt.Domain.undefine, \
            fakelibvirt.Connection.defineXML

        def undefine_running(dom: typing.Any) -> None:
            if dom._state == fakelibvirt.VIR_DOMAIN_RUNNING:
                dom._transient = True
            else:
                undefine(dom)

        def define_again(conn: typing.Any, xml: str) -> typing.Any:
            name = etree.fromstring(xml).findtext("name")
            dom = conn._vms.get(name)
            if dom is None or not dom._transient:
                return define(conn, xml)
            dom._def = dom._parse_definition(xml)
            dom._transient = False
            return dom

        self.useFixture(fixtures.MonkeyPatch(
            "nova.tests.fixtures.libvirt.Domain.undefine", undefine_running))
        self.useFixture(fixtures.MonkeyPatch(
            "nova.tests.fixtures.libvirt.Connection.defineXML",
            define_again))

    def _qga_image(self) -> str:
        image = copy.deepcopy(self.glance.image1)
        image["id"] = uuids.qga_image
        image["properties"]["hw_qemu_guest_agent"] = "yes"
        self.glance.create(None, image)
        return str(image["id"])

    # -- servers ----------------------------------------------------------

    def heartbeat_flavor(self, **specs: str) -> str:
        """A flavor with ``hw:heartbeat``; ``specs`` override the test's."""
        extra = dict(HEARTBEAT_SPECS)
        extra.update({"hw:heartbeat_" + k: v for k, v in specs.items()})
        return str(self._create_flavor(extra_spec=extra))

    def boot(self, flavor_id: str, host: typing.Optional[str] = None,
             ) -> typing.Dict[str, typing.Any]:
        server: typing.Dict[str, typing.Any] = self._create_server(
            flavor_id=flavor_id, image_uuid=self.image_id, networks="none",
            host=host)
        # Nova's harness mocks the image creation that would make the
        # instance's directory; rescue writes its unrescue.xml there.
        os.makedirs(os.path.join(CONF.instances_path, server["id"]),
                    exist_ok=True)
        return server

    def socket_of(self, server: typing.Dict[str, typing.Any]) -> str:
        return guest_config.socket_path(
            self.socket_dir, server["OS-EXT-SRV-ATTR:instance_name"])

    def boot_monitored(self, host: str = "compute1",
                       flavor: typing.Optional[str] = None,
                       ) -> typing.Dict[str, typing.Any]:
        """A heartbeat server whose guest answers; once it is HEALTHY."""
        server = self.boot(flavor or self.heartbeat_flavor(), host=host)
        self.guests.start(server["id"], self.socket_of(server))
        self.wait_state(server, MonitorState.HEALTHY, host)
        return server

    # -- the monitor ------------------------------------------------------

    def driver(self, host: str = "compute1",
               ) -> hb_driver.HeartbeatLibvirtDriver:
        driver: hb_driver.HeartbeatLibvirtDriver = self.computes[host].driver
        return driver

    def state(self, server: typing.Dict[str, typing.Any],
              host: str = "compute1") -> typing.Optional[MonitorState]:
        monitor = self.driver(host).heartbeat_monitor
        if monitor is None:
            return None
        for status in monitor.service.statuses():
            if status.uuid == server["id"]:
                return status.status.state
        return None

    def wait_state(self, server: typing.Dict[str, typing.Any],
                   state: typing.Optional[MonitorState],
                   host: str = "compute1") -> None:
        """Wait until ``host`` judges ``server`` so (None: not at all)."""
        deadline = time.monotonic() + WAIT
        while self.state(server, host) is not state:
            if time.monotonic() > deadline:
                self.fail("server %s is %s on %s, not %s after %g s" % (
                    server["id"], self.state(server, host), host, state,
                    WAIT))
            time.sleep(0.1)

    def inject(self, server: typing.Dict[str, typing.Any], transition: int,
               host: str = "compute1") -> None:
        """Deliver a libvirt lifecycle event, as libvirt would have."""
        self.driver(host).emit_event(
            virtevent.LifecycleEvent(server["id"], transition))

    def heartbeat_notifications(self) -> typing.List[typing.Dict[
            str, typing.Any]]:
        return [n for n in self.notifier.versioned_notifications
                if n["event_type"].startswith("instance.heartbeat")
                or n["event_type"] in ("instance.health_check_failed",
                                       "instance.recovery_requested")]

    def lost_and_restored(self) -> typing.List[typing.Tuple[str, str]]:
        """(event type, instance uuid) of every heartbeat notification."""
        return [(n["event_type"],
                 n["payload"]["nova_object.data"]["instance_uuid"])
                for n in self.heartbeat_notifications()]

    def hang_is_detected(self, server: typing.Dict[str, typing.Any],
                         host: str = "compute1") -> None:
        """Once judged healthy, a hung guest is reported lost."""
        self.wait_state(server, MonitorState.HEALTHY, host)
        self.guests.guests[server["id"]].freeze()
        self.notifier.wait_for_versioned_notifications(LOST,
                                                       timeout=WAIT)
        self.assertIn((LOST, server["id"]), self.lost_and_restored())

    def heartbeat_threads(self) -> typing.List[str]:
        return sorted(t.name for t in threading.enumerate()
                      if t.name.startswith(HEARTBEAT_THREADS))
