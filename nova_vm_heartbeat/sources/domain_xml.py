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

"""What a libvirt domain's XML says about its heartbeat monitoring.

Pure parsing, no libvirt: :func:`describe` reads a domain definition and
returns a :class:`DomainDescription`, or None when the domain has no
heartbeat channel. It reads:

* ``<uuid>`` and ``<name>``;
* the heartbeat channel: a ``<channel type='unix'>`` whose ``<target
  type='virtio' name='org.openstack.heartbeat.0'/>``, with its socket in
  ``<source mode='bind' path='...'/>``;
* whether a channel targets the QEMU guest agent
  (``org.qemu.guest_agent.0``);
* Nova's metadata, ``<nova:instance>`` in any namespace
  ``http://openstack.org/xmlns/libvirt/nova/1.x`` (Nova has written 1.0
  and 1.1; later minor versions keep ``<nova:name>``), for the display
  name;
* our own optional settings element, written by the Nova driver::

      <hb:heartbeat xmlns:hb="http://openstack.org/xmlns/nova-vm-heartbeat/1.0"
                    interval="5" timeout="3" failure_threshold="3"
                    boot_grace="300"/>

  An absent attribute takes the default; a bad value (not a number, not
  finite, not positive) takes the default too, with a warning in
  :attr:`DomainDescription.warnings`.

The XML comes from libvirt, which comes from whoever defined the domain:
it is parsed defensively, never raises past :func:`describe` except
:class:`InvalidDomainXML`, and bounds every string it keeps.
"""

from __future__ import annotations

import dataclasses
import math
import typing
import xml.etree.ElementTree as ET

from nova_vm_heartbeat.monitor.policy import Settings

HEARTBEAT_CHANNEL = "org.openstack.heartbeat.0"
QGA_CHANNEL = "org.qemu.guest_agent.0"
NOVA_NS_PREFIX = "http://openstack.org/xmlns/libvirt/nova/1."
HB_NS = "http://openstack.org/xmlns/nova-vm-heartbeat/1.0"
#: Longest XML accepted, in characters (a domain XML is a few KiB).
MAX_XML_CHARS = 4 * 1024 * 1024
#: Longest display name kept.
MAX_NAME_CHARS = 255
#: Longest socket path (AF_UNIX holds 108 bytes).
MAX_PATH_CHARS = 4096

#: attribute -> (Settings field, type)
_SETTINGS: typing.Dict[str, typing.Tuple[str, type]] = {
    "interval": ("interval", float),
    "timeout": ("timeout", float),
    "failure_threshold": ("failure_threshold", int),
    "boot_grace": ("boot_grace", float),
}


class InvalidDomainXML(ValueError):
    """The text is not a domain definition we can read at all."""


@dataclasses.dataclass(frozen=True)
class DomainDescription:
    """The heartbeat-relevant facts of one domain definition."""

    uuid: str
    name: str
    heartbeat_socket: str
    settings: Settings
    display_name: str = ""
    qga: bool = False
    #: What was wrong but replaced by a default, for the logs.
    warnings: typing.Tuple[str, ...] = ()


def describe(text: typing.Union[str, bytes],
             defaults: Settings) -> typing.Optional[DomainDescription]:
    """The description of a domain XML; None without our channel.

    :raises InvalidDomainXML: not XML, not a domain, or no uuid.
    """
    root = _parse(text)
    uuid = _text(root.find("uuid"))
    if not uuid:
        raise InvalidDomainXML("the domain has no <uuid>")
    channels = _channels(root)
    socket = channels.get(HEARTBEAT_CHANNEL)
    if not socket:
        return None
    warnings: typing.List[str] = []
    settings = _settings(root, defaults, warnings)
    return DomainDescription(
        uuid=uuid.lower(), name=_text(root.find("name")),
        heartbeat_socket=socket, settings=dataclasses.replace(
            settings, heartbeat=True, qga=QGA_CHANNEL in channels),
        display_name=_display_name(root), qga=QGA_CHANNEL in channels,
        warnings=tuple(warnings))


def _parse(text: typing.Union[str, bytes]) -> ET.Element:
    if len(text) > MAX_XML_CHARS:
        raise InvalidDomainXML("the domain XML is too long")
    try:
        root = ET.fromstring(text)
    except ET.ParseError as err:
        raise InvalidDomainXML("not XML: %s" % err) from err
    if root.tag != "domain":
        raise InvalidDomainXML("the root element is <%s>, not <domain>"
                               % str(root.tag)[:64])
    return root


def _text(element: typing.Optional[ET.Element],
          limit: int = MAX_NAME_CHARS) -> str:
    if element is None or element.text is None:
        return ""
    return element.text.strip()[:limit]


def _channels(root: ET.Element) -> typing.Dict[str, str]:
    """target name -> socket path ("" when not a unix socket) of each."""
    found: typing.Dict[str, str] = {}
    for channel in root.iterfind("devices/channel"):
        target = channel.find("target")
        if target is None or target.get("type", "virtio") != "virtio":
            continue
        name = target.get("name")
        if not name or name in found:
            continue
        found[name] = _socket_path(channel)
    return found


def _socket_path(channel: ET.Element) -> str:
    source = channel.find("source")
    if channel.get("type") != "unix" or source is None \
            or source.get("mode", "bind") != "bind":
        return ""
    path = source.get("path", "")
    if not path.startswith("/") or len(path) > MAX_PATH_CHARS \
            or "\0" in path:
        return ""
    return path


def _display_name(root: ET.Element) -> str:
    for metadata in root.iterfind("metadata"):
        for element in metadata:
            namespace, local = _split(element.tag)
            if local == "instance" and namespace.startswith(NOVA_NS_PREFIX):
                return _text(element.find("{%s}name" % namespace))
    return ""


def _split(tag: str) -> typing.Tuple[str, str]:
    if tag.startswith("{") and "}" in tag:
        namespace, local = tag[1:].split("}", 1)
        return namespace, local
    return "", tag


def _settings(root: ET.Element, defaults: Settings,
              warnings: typing.List[str]) -> Settings:
    element = root.find("metadata/{%s}heartbeat" % HB_NS)
    if element is None:
        return defaults
    changes: typing.Dict[str, typing.Any] = {}
    for attribute, (field, kind) in _SETTINGS.items():
        raw = element.get(attribute)
        if raw is None:
            continue
        value = _number(raw, kind)
        if value is None:
            warnings.append("ignoring %s=%r: not a positive %s" % (
                attribute, raw[:32], kind.__name__))
            continue
        changes[field] = value
    return dataclasses.replace(defaults, **changes)


def _number(raw: str, kind: type) -> typing.Optional[float]:
    text = raw.strip()
    if len(text) > 32:
        return None
    try:
        value = float(text) if kind is float else int(text, 10)
    except ValueError:
        return None
    if not math.isfinite(value) or value <= 0:
        return None
    return value
