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

"""Why the agent is stopping: the reason it gives the host in ``bye``.

The host treats the silence after ``bye`` differently for a guest that
shuts down, one that reboots and one whose agent alone stops, so the agent
works out which it is, in this order:

1. the shutdown-reason file (default
   ``/run/nova-vm-heartbeat/shutdown-reason``), which init scripts may
   write before stopping the agent: ``reboot`` or ``shutdown``;
2. systemd: if ``systemctl is-system-running`` says ``stopping``, the
   system is going down; it reboots if a reboot job is queued;
3. otherwise only the agent stops.
"""

from __future__ import annotations

import logging
import subprocess
import typing

from nova_vm_heartbeat import protocol

LOG = logging.getLogger(__name__)

DEFAULT_REASON_FILE = "/run/nova-vm-heartbeat/shutdown-reason"
#: systemd units whose queued job means the guest restarts.
REBOOT_TARGETS = ("reboot.target", "kexec.target", "soft-reboot.target")
#: Seconds one ``systemctl`` call may take.
SYSTEMCTL_TIMEOUT = 2.0

Runner = typing.Callable[[typing.Sequence[str]], str]

_FILE_REASONS = {"reboot": protocol.ByeReason.REBOOT,
                 "shutdown": protocol.ByeReason.SHUTDOWN}


def run_command(argv: typing.Sequence[str]) -> str:
    """The standard output of ``argv``, or ``""`` if it cannot run."""
    try:
        result = subprocess.run(
            list(argv), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL, timeout=SYSTEMCTL_TIMEOUT,
            check=False)
    except (OSError, subprocess.SubprocessError) as err:
        LOG.debug("Cannot run %s: %s", argv[0], err)
        return ""
    return result.stdout.decode("utf-8", "replace")


def from_file(path: str) -> typing.Optional[protocol.ByeReason]:
    """The reason written in ``path``, if it holds a known one."""
    try:
        with open(path, "rb") as stream:
            text = stream.read(64).decode("ascii", "replace")
    except OSError:
        return None
    return _FILE_REASONS.get(text.strip().lower())


def from_systemd(run: Runner = run_command,
                 ) -> typing.Optional[protocol.ByeReason]:
    """Shutdown or reboot if systemd is stopping the system, else None."""
    if run(["systemctl", "is-system-running"]).strip() != "stopping":
        return None
    jobs = run(["systemctl", "list-jobs", "--no-legend", "--no-pager"])
    units = {line.split()[1] for line in jobs.splitlines()
             if len(line.split()) > 1}
    if units.intersection(REBOOT_TARGETS):
        return protocol.ByeReason.REBOOT
    return protocol.ByeReason.SHUTDOWN


def bye_reason(reason_file: str = DEFAULT_REASON_FILE,
               run: Runner = run_command) -> protocol.ByeReason:
    """Why the agent stops, as ``bye`` says it."""
    reason = from_file(reason_file) if reason_file else None
    if reason is None:
        reason = from_systemd(run)
    return reason or protocol.ByeReason.AGENT_STOP
