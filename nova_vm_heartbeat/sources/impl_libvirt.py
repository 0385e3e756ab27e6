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

"""The instance source of the standalone monitor: libvirt's own domains.

:class:`LibvirtSource` lists the running and defined domains of a libvirt
connection and monitors those whose definition carries our heartbeat
channel (see :mod:`.domain_xml` for what is read). It needs no Nova: the
display name and the settings come from the metadata the Nova driver
writes into the domain XML.

Domain definitions rarely change, so each domain's parsed XML is kept for
:data:`XML_TTL` seconds (and re-read at once when the domain restarts);
the state is asked on every refresh. How long a domain has run is read
from its QEMU process (``<run_dir>/<name>.pid`` and ``/proc``) when the
host allows it, else left unknown (the monitor then assumes a fresh boot
and waits the whole boot grace).
"""

from __future__ import annotations

import dataclasses
import importlib
import logging
import os
import threading
import time
import typing

from nova_vm_heartbeat import exception
from nova_vm_heartbeat.monitor.policy import Settings
from nova_vm_heartbeat.sources.base import InstanceInfo
from nova_vm_heartbeat.sources.base import InstanceSource
from nova_vm_heartbeat.sources import domain_xml

LOG = logging.getLogger(__name__)

#: Seconds a parsed domain XML is reused.
XML_TTL = 60.0
#: Where libvirt's QEMU driver keeps its pid files (qemu:///system).
RUN_DIR = "/run/libvirt/qemu"


@dataclasses.dataclass
class _Cached:
    domain_id: int
    at: float
    description: typing.Optional[domain_xml.DomainDescription]
    #: When its QEMU process started, in seconds since the host booted
    #: (the same process while the domain ID is); None: not read yet.
    started: typing.Optional[float] = None


class LibvirtSource(InstanceSource):
    """The domains of ``uri`` that carry the heartbeat channel.

    :param libvirt: the libvirt module (imported when first needed if
        None).
    """

    def __init__(self, uri: str, defaults: Settings,
                 libvirt: typing.Any = None, run_dir: str = RUN_DIR,
                 clock: typing.Callable[[], float] = time.monotonic):
        self.uri = uri
        self.defaults = defaults
        self.run_dir = run_dir
        self.clock = clock
        self._libvirt = libvirt
        self._lock = threading.Lock()
        self._conn: typing.Optional[typing.Any] = None
        self._cache: typing.Dict[str, _Cached] = {}
        self._warned: typing.Set[typing.Tuple[str, str]] = set()

    def instances(self) -> typing.List[InstanceInfo]:
        """Every domain with our channel, and whether it runs.

        Two calls to libvirtd whatever the number of domains (the domains,
        the running ones), plus a domain's XML when it restarted or its
        copy is ``XML_TTL`` old, and its QEMU's start time once per
        process: at 1,000 domains every ``refresh_interval``, a call per
        domain for its state would cost the host more than the heartbeats.
        """
        libvirt = self._module()
        with self._lock:
            try:
                try:
                    reused = self._conn is not None
                    found, listed = self._look(libvirt)
                except libvirt.libvirtError as err:
                    self._drop_connection()
                    # The connection may have broken since the last look
                    # (libvirtd restarted): look again on a new one rather
                    # than miss this look. Twice at most either way.
                    if not reused:
                        raise
                    LOG.info("Listing the domains on the libvirt connection "
                             "to %(uri)s failed (%(err)s); reconnecting",
                             {"uri": self.uri, "err": err})
                    found, listed = self._look(libvirt)
            except libvirt.libvirtError as err:
                self._drop_connection()
                raise exception.SourceUnavailable(
                    reason="libvirt at %s: %s" % (self.uri, err)) from err
        self._forget_except(listed)
        return [i for i in found if i is not None]

    def _look(self, libvirt: typing.Any) -> typing.Tuple[
            typing.List[typing.Optional[InstanceInfo]], typing.Set[str]]:
        """The instances (None: not ours) and the uuids of every domain."""
        conn = self._connection(libvirt)
        domains = conn.listAllDomains(0)
        running = {str(d.UUIDString()).lower()
                   for d in conn.listAllDomains(
                       libvirt.VIR_CONNECT_LIST_DOMAINS_RUNNING)}
        booted = system_uptime()
        found = [self._instance(libvirt, d, running, booted)
                 for d in domains]
        listed = {str(d.UUIDString()).lower() for d in domains}
        return found, listed

    def close(self) -> None:
        with self._lock:
            self._drop_connection()

    # -- libvirt ------------------------------------------------------------

    def _module(self) -> typing.Any:
        if self._libvirt is None:
            try:
                self._libvirt = importlib.import_module("libvirt")
            except ImportError as err:
                raise exception.SourceUnavailable(
                    reason="the libvirt Python bindings are not "
                    "installed") from err
        return self._libvirt

    def _connection(self, libvirt: typing.Any) -> typing.Any:
        if self._conn is None:
            self._conn = libvirt.open(self.uri)
        return self._conn

    def _drop_connection(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.close()
            except Exception:  # already broken
                LOG.debug("Closing the libvirt connection failed",
                          exc_info=True)

    # -- one domain -----------------------------------------------------------

    def _instance(self, libvirt: typing.Any, domain: typing.Any,
                  running: typing.Set[str], booted: typing.Optional[float],
                  ) -> typing.Optional[InstanceInfo]:
        try:
            cached = self._described(domain)
        except libvirt.libvirtError as err:
            if _vanished(libvirt, err):
                return None  # undefined while we listed: next time
            raise
        description = cached.description
        if description is None:
            return None
        runs = description.uuid in running
        uptime = None
        if runs and booted is not None:
            if cached.started is None:
                cached.started = process_start(self._pid_file(
                    description.name))
            if cached.started is not None:
                uptime = max(0.0, booted - cached.started)
        return InstanceInfo(
            uuid=description.uuid, domain_name=description.name,
            settings=description.settings,
            heartbeat_socket=description.heartbeat_socket,
            display_name=description.display_name, running=runs,
            uptime=uptime)

    def _described(self, domain: typing.Any) -> _Cached:
        uuid = str(domain.UUIDString()).lower()
        domain_id = int(domain.ID())
        cached = self._cache.get(uuid)
        now = self.clock()
        if cached is not None and cached.domain_id == domain_id \
                and now - cached.at < XML_TTL:
            return cached
        started = (cached.started if cached is not None
                   and cached.domain_id == domain_id else None)
        cached = self._cache[uuid] = _Cached(
            domain_id, now, self._parse(uuid, domain.XMLDesc(0)), started)
        return cached

    def _parse(self, uuid: str, text: str
               ) -> typing.Optional[domain_xml.DomainDescription]:
        try:
            description = domain_xml.describe(text, self.defaults)
        except domain_xml.InvalidDomainXML as err:
            self._warn_once(uuid, "cannot read its XML: %s" % err)
            return None
        for warning in description.warnings if description else ():
            self._warn_once(uuid, warning)
        return description

    def _warn_once(self, uuid: str, text: str) -> None:
        if (uuid, text) not in self._warned:
            self._warned.add((uuid, text))
            LOG.warning("Domain %(uuid)s: %(text)s",
                        {"uuid": uuid, "text": text})

    def _forget_except(self, uuids: typing.Set[str]) -> None:
        for uuid in [u for u in self._cache if u not in uuids]:
            del self._cache[uuid]

    def _pid_file(self, name: str) -> str:
        return os.path.join(self.run_dir, name + ".pid")


def _vanished(libvirt: typing.Any, err: BaseException) -> bool:
    code = getattr(err, "get_error_code", lambda: None)()
    return code is not None and code == getattr(
        libvirt, "VIR_ERR_NO_DOMAIN", None)


def system_uptime() -> typing.Optional[float]:
    """Seconds since the host booted; None if unknown."""
    try:
        with open("/proc/uptime", encoding="ascii") as stream:
            return float(stream.read(64).split()[0])
    except (OSError, ValueError, IndexError):
        return None


def process_start(pid_file: str) -> typing.Optional[float]:
    """When the process in ``pid_file`` started; None if unknown.

    In seconds since the host booted, as :func:`system_uptime` counts.
    """
    try:
        with open(pid_file, encoding="ascii") as stream:
            pid = int(stream.read(32).strip())
        with open("/proc/%d/stat" % pid, encoding="ascii") as stream:
            fields = stream.read(4096).rsplit(")", 1)[1].split()
        return int(fields[19]) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None
