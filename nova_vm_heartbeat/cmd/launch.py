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

"""Entry points of the long-running console scripts: signals first.

A service manager may stop a program the moment it started it. The
console scripts ``nova-vm-heartbeat-monitor`` and
``nova-vm-heartbeat-masakari-bridge`` import only this module (standard
library only) and catch SIGTERM and SIGINT before they import the
program's own modules (oslo.*, libvirt: most of a second). A signal that
arrives meanwhile, or while the program starts, stops it cleanly (exit
status 0) as soon as it can, instead of killing it (status 143). They
also refuse eventlet (:func:`nova_vm_heartbeat.cmd.refuse_eventlet`).
"""

from __future__ import annotations

import importlib
import typing

from nova_vm_heartbeat import cmd
from nova_vm_heartbeat.cmd import signals


def monitor(argv: typing.Optional[typing.Sequence[str]] = None) -> int:
    """``nova-vm-heartbeat-monitor``."""
    return _main("nova_vm_heartbeat.cmd.monitor", argv)


def masakari_bridge(
        argv: typing.Optional[typing.Sequence[str]] = None) -> int:
    """``nova-vm-heartbeat-masakari-bridge``."""
    return _main("nova_vm_heartbeat.cmd.masakari_bridge", argv)


def _main(module: str, argv: typing.Optional[typing.Sequence[str]]) -> int:
    with signals.SignalWaiter() as waiter:
        cmd.refuse_eventlet()
        program = importlib.import_module(module)
        return int(program.main(argv, waiter))
