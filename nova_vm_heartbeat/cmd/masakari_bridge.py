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

"""``nova-vm-heartbeat-masakari-bridge``: verdicts to Masakari notifications.

Listens for the heartbeat notifications on the bus and asks Masakari to
recover the instances whose verdicts the operator selected (see
:mod:`nova_vm_heartbeat.masakari`). Runs until SIGTERM or SIGINT, then
puts back what it holds and exits 0; exits 1 if it cannot start. Run as
many as you like with the same ``[masakari_bridge] pool``.
"""

from __future__ import annotations

import logging
import sys
import typing

from oslo_config import cfg
from oslo_log import log

from nova_vm_heartbeat import cmd
from nova_vm_heartbeat.cmd import monitor
from nova_vm_heartbeat.cmd.signals import SignalWaiter
from nova_vm_heartbeat.conf import masakari_bridge
from nova_vm_heartbeat.conf import masakari_client
from nova_vm_heartbeat import version

LOG = logging.getLogger(__name__)

PROG = "nova-vm-heartbeat-masakari-bridge"


def configure(conf: cfg.ConfigOpts, argv: typing.Sequence[str]) -> None:
    """Register the options, parse ``argv`` and the files, set up logs."""
    cmd.use_native_threads()
    log.register_options(conf)
    masakari_bridge.register_opts(conf)
    masakari_client.register_opts(conf)
    conf(list(argv), project=monitor.PROJECT, prog=PROG,
         version=str(version.version_info.version_string()))
    log.setup(conf, monitor.PROJECT)


def run(conf: cfg.ConfigOpts,
        waiter: typing.Optional[SignalWaiter] = None) -> int:
    """Start the bridge, wait for a signal, stop; the exit status."""
    # Imported only now: oslo_messaging after the choice of threads.
    from nova_vm_heartbeat.masakari.bridge import Bridge

    return monitor.serve(lambda: Bridge(conf), waiter, LOG)


def main(argv: typing.Optional[typing.Sequence[str]] = None,
         waiter: typing.Optional[SignalWaiter] = None) -> int:
    """The bridge's console script (through :mod:`.launch`).

    Signals are caught from the first instruction.
    """
    with waiter or SignalWaiter() as signals:
        conf = cfg.ConfigOpts()
        configure(conf, sys.argv[1:] if argv is None else argv)
        return run(conf, signals)
