#!/usr/bin/env python3
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

"""``nova-vm-heartbeat-monitor`` that watches only some domains.

libvirtd on a shared test host runs other people's guests too; a
benchmark's monitor must neither challenge them nor count their cost.
This runs the real monitor (``cmd/monitor.py``) with its instance source
filtered to the domains whose name starts with ``--prefix``, and with
``--channels`` the channels it uses (``heartbeat``, ``qga`` or ``both``,
whatever the domain has)::

    python benchmarks/own_monitor.py --prefix issue15- --config-file F

It imports whatever ``nova_vm_heartbeat`` is first on the path, so that
``PYTHONPATH=<another tree>`` runs that tree's monitor.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import typing

from nova_vm_heartbeat import cmd
from nova_vm_heartbeat.cmd import monitor
from nova_vm_heartbeat.cmd import signals
from nova_vm_heartbeat.sources import impl_libvirt


class _Only:
    """An instance source that keeps the domains named ``prefix*``."""

    def __init__(self, source: typing.Any, prefix: str, channels: str):
        self._source = source
        self._prefix = prefix
        self._channels = channels

    def instances(self) -> typing.List[typing.Any]:
        return [self._only(info) for info in self._source.instances()
                if info.domain_name.startswith(self._prefix)]

    def _only(self, info: typing.Any) -> typing.Any:
        if self._channels == "both":
            return info
        heartbeat = self._channels == "heartbeat"
        return dataclasses.replace(
            info, settings=dataclasses.replace(
                info.settings, heartbeat=heartbeat,
                qga=info.settings.qga and not heartbeat),
            heartbeat_socket=info.heartbeat_socket if heartbeat else None)

    def __getattr__(self, name: str) -> typing.Any:
        return getattr(self._source, name)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--prefix", required=True)
    parser.add_argument("--channels", default="both",
                        choices=("heartbeat", "qga", "both"))
    args, rest = parser.parse_known_args()
    # monitor.build() makes impl_libvirt.LibvirtSource(uri, defaults):
    # the filtered source takes its place for this process.
    real = impl_libvirt.LibvirtSource

    def filtered(uri: str, defaults: typing.Any) -> typing.Any:
        return _Only(real(uri, defaults), args.prefix, args.channels)

    impl_libvirt.LibvirtSource = filtered  # type: ignore[misc,assignment]
    with signals.SignalWaiter() as waiter:
        cmd.refuse_eventlet()
        return monitor.main(rest, waiter)


if __name__ == "__main__":
    sys.exit(main())
