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

"""``nova-vm-heartbeat status``: every monitored instance, at a glance.

It asks the monitor's admin socket (standalone or inside nova-compute)
and prints a table, or JSON with ``--json``. Exit status: 0 with an
answer, 1 when the monitor cannot be asked (not running, no permission,
no answer), 2 for a bad command line.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import typing

from oslo_config import cfg

from nova_vm_heartbeat.admin import client
from nova_vm_heartbeat.admin import table
from nova_vm_heartbeat.admin.wire import Json
from nova_vm_heartbeat.conf import admin
from nova_vm_heartbeat import exception
from nova_vm_heartbeat.monitor.machine import MonitorState

PROG = "nova-vm-heartbeat"
#: Read for ``[heartbeat_admin] socket_path`` when no file is given and
#: the standalone monitor's own files do not exist.
NOVA_CONF = "/etc/nova/nova.conf"
STATES = [state.value for state in MonitorState]


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(
        prog=PROG, description="Ask the heartbeat monitor of this host.")
    commands = top.add_subparsers(dest="command", required=True)
    status = commands.add_parser(
        "status", help="every monitored instance and how it is judged",
        description="Every monitored instance of this host: state, fault "
        "class, age of the last good answer, round trip, channels, "
        "suspensions.")
    status.add_argument("--state", action="append", default=[],
                        metavar="STATE", type=_states,
                        help="only instances in STATE (repeat, or separate "
                        "with commas): %s" % ", ".join(STATES))
    status.add_argument("--json", action="store_true",
                        help="print JSON, for scripts")
    status.add_argument("--socket", metavar="PATH",
                        help="the admin socket (default: [heartbeat_admin] "
                        "socket_path of the configuration)")
    status.add_argument("--config-file", action="append", default=[],
                        metavar="FILE", help="read the socket path from "
                        "FILE (repeatable; default: the standalone "
                        "monitor's configuration, else %s)" % NOVA_CONF)
    status.add_argument("--timeout", type=float, default=client.TIMEOUT,
                        help="seconds to wait for the answer")
    return top


def _states(text: str) -> typing.List[str]:
    states = [s.strip().lower() for s in text.split(",") if s.strip()]
    unknown = [s for s in states if s not in STATES]
    if unknown:
        raise argparse.ArgumentTypeError(
            "unknown state %s (states: %s)" % (", ".join(unknown),
                                               ", ".join(STATES)))
    return states


def socket_path(args: argparse.Namespace) -> str:
    """The admin socket: ``--socket``, else the configuration's."""
    if args.socket:
        return str(args.socket)
    files = args.config_file or _default_files()
    conf = cfg.ConfigOpts()
    admin.register_opts(conf)
    try:
        conf(args=[], default_config_files=files)
    except cfg.Error as err:
        raise exception.AdminUnavailable(
            path="(unknown)", reason="cannot read %s: %s"
            % (", ".join(files), err)) from err
    return str(conf.heartbeat_admin.socket_path)


def _default_files() -> typing.List[str]:
    found = list(cfg.find_config_files(project="nova-vm-heartbeat"))
    if not found and os.access(NOVA_CONF, os.R_OK):
        found = [NOVA_CONF]
    return found


def select(instances: typing.List[Json],
           states: typing.List[typing.List[str]]) -> typing.List[Json]:
    wanted = {s for group in states for s in group}
    return [i for i in instances if not wanted or i["state"] in wanted]


def run(args: argparse.Namespace, out: typing.TextIO) -> int:
    try:
        path = socket_path(args)
        answer = client.ask(path, "status", args.timeout)
    except exception.AdminUnavailable as err:
        print("%s status: %s" % (PROG, err), file=sys.stderr)
        return 1
    instances = select(answer.get("instances", []), args.state)
    instances.sort(key=lambda i: (i.get("name") or i["domain"], i["uuid"]))
    if args.json:
        json.dump({"host": answer.get("host"), "instances": instances},
                  out, indent=2, sort_keys=True)
        out.write("\n")
    else:
        out.write("Heartbeat monitor of host %s\n" % answer.get("host", "?"))
        out.write(table.render(instances) + "\n")
    return 0


def main(argv: typing.Optional[typing.Sequence[str]] = None) -> int:
    args = parser().parse_args(argv)
    return run(args, sys.stdout)
