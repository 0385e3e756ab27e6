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

"""``nova-vm-heartbeat-guest``: run the agent, or talk to it.

``run`` starts the agent daemon (:mod:`.daemon`). Every other command is a
client of the running agent's API socket (:mod:`.client`): it prints one
line (``status`` prints a summary) and exits 0, or prints one line saying
what went wrong and exits 1. Usage errors exit 2.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import typing

from nova_vm_heartbeat import guest
from nova_vm_heartbeat.guest import checks
from nova_vm_heartbeat.guest import client
from nova_vm_heartbeat.guest import daemon
from nova_vm_heartbeat.guest import listener
from nova_vm_heartbeat.guest import port
from nova_vm_heartbeat.guest import session
from nova_vm_heartbeat.guest import settings as settings_mod
from nova_vm_heartbeat.guest import shutdown

PROG = guest.AGENT_NAME
JsonDict = client.JsonDict


def _positive(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError("must be a positive number")
    return value


def _add_run(commands: typing.Any) -> None:
    run = commands.add_parser("run", help="run the agent daemon")
    run.add_argument("--port", default=port.DEFAULT_PORT,
                     help="the virtio-serial port, or unix:PATH to connect "
                     "to a UNIX socket instead (default: %(default)s)")
    run.add_argument("--socket", default=listener.DEFAULT_SOCKET,
                     help="the API socket to create (default: %(default)s)")
    run.add_argument("--socket-group", help="group allowed to use the API "
                     "socket (default: the agent's own group)")
    run.add_argument("--checks-dir", default=checks.DEFAULT_DIR,
                     help="directory of check scripts (default: "
                     "%(default)s)")
    run.add_argument("--check-interval", type=_positive,
                     default=checks.DEFAULT_INTERVAL, metavar="SECONDS",
                     help="run the checks this often (default: %(default)s)")
    run.add_argument("--check-timeout", type=_positive,
                     default=checks.DEFAULT_TIMEOUT, metavar="SECONDS",
                     help="kill a check that runs longer (default: "
                     "%(default)s)")
    run.add_argument("--shutdown-reason-file",
                     default=shutdown.DEFAULT_REASON_FILE, metavar="PATH",
                     help="file an init script writes 'reboot' or "
                     "'shutdown' to before stopping the agent (default: "
                     "%(default)s)")
    run.add_argument("--hello-timeout", type=_positive,
                     default=session.HELLO_TIMEOUT, metavar="SECONDS",
                     help="say hello again if no welcome comes within this "
                     "time (default: %(default)s)")
    run.add_argument("--log-level", default="INFO",
                     choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    run.set_defaults(func=_run)


def _add_clients(commands: typing.Any) -> None:
    def command(name: str, help_text: str,
                func: typing.Callable[[argparse.Namespace], int],
                ) -> argparse.ArgumentParser:
        parser: argparse.ArgumentParser = commands.add_parser(
            name, help=help_text)
        parser.add_argument("--socket", default=listener.DEFAULT_SOCKET,
                            help="the agent's API socket (default: "
                            "%(default)s)")
        parser.set_defaults(func=func)
        return parser

    notify = command("notify", "report a component's health", _notify)
    notify.add_argument("--component", required=True)
    notify.add_argument("--status", required=True, choices=["ok", "failed"])
    notify.add_argument("--reason")
    notify.add_argument("--progress", type=int)
    notify.add_argument("--ttl", type=float,
                        help="register the component with this TTL too")
    register = command("register", "register a component", _register)
    register.add_argument("--component", required=True)
    register.add_argument("--ttl", type=float, required=True,
                          help="seconds between reports before the "
                          "component counts as failed")
    command("unregister", "forget a component", _unregister).add_argument(
        "--component", required=True)
    maintenance = command("maintenance", "ask the host for a maintenance "
                          "window, or end it", _maintenance)
    which = maintenance.add_mutually_exclusive_group(required=True)
    which.add_argument("--duration", type=int, metavar="SECONDS")
    which.add_argument("--end", action="store_true")
    maintenance.add_argument("--reason")
    recovery = command("request-recovery", "ask the host to reboot or "
                       "stop this instance", _request_recovery)
    recovery.add_argument("--action", required=True,
                          choices=["reboot", "stop"])
    recovery.add_argument("--reason")
    command("status", "show the agent's state", _status).add_argument(
        "--json", action="store_true", help="print the raw JSON reply")


def build_parser() -> argparse.ArgumentParser:
    """The command line parser."""
    parser = argparse.ArgumentParser(
        prog=PROG, description="The nova-vm-heartbeat guest agent.")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.required = True
    _add_run(commands)
    _add_clients(commands)
    return parser


# -- commands ----------------------------------------------------------------

def _run(args: argparse.Namespace) -> int:
    logging.basicConfig(
        level=args.log_level, stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    return daemon.run(settings_mod.Settings(
        port=args.port, socket=args.socket, socket_group=args.socket_group,
        checks_dir=args.checks_dir, check_interval=args.check_interval,
        check_timeout=args.check_timeout,
        shutdown_reason_file=args.shutdown_reason_file,
        hello_timeout=args.hello_timeout))


def _agent(args: argparse.Namespace) -> client.AgentClient:
    return client.AgentClient(args.socket)


def _notify(args: argparse.Namespace) -> int:
    reply = _agent(args).notify(args.component, args.status, args.reason,
                                args.progress, args.ttl)
    print("%s: %s (overall health: %s)" % (args.component, args.status,
                                           reply.get("health")))
    return 0


def _register(args: argparse.Namespace) -> int:
    _agent(args).register(args.component, args.ttl)
    print("%s: registered, report at least every %g s"
          % (args.component, args.ttl))
    return 0


def _unregister(args: argparse.Namespace) -> int:
    _agent(args).unregister(args.component)
    print("%s: unregistered" % args.component)
    return 0


def _maintenance(args: argparse.Namespace) -> int:
    duration = 0 if args.end else args.duration
    reply = _agent(args).maintenance(duration, args.reason)
    if duration == 0:
        print("maintenance ended")
    else:
        print("maintenance granted for %s s (asked for %d s)"
              % (reply.get("granted"), duration))
    return 0


def _request_recovery(args: argparse.Namespace) -> int:
    _agent(args).request_recovery(args.action, args.reason)
    print("the host accepted the %s request" % args.action)
    return 0


def _status(args: argparse.Namespace) -> int:
    reply = _agent(args).status()
    if args.json:
        print(json.dumps(reply, indent=2, sort_keys=True))
    else:
        print("\n".join(status_lines(reply)))
    return 0


def status_lines(reply: JsonDict) -> typing.List[str]:
    """A human readable summary of a ``status`` reply."""
    channel = reply.get("channel") or {}
    lines = ["channel:     %s (port %s)"
             % (channel.get("state"), channel.get("port"))]
    if channel.get("version") is not None:
        lines.append("protocol:    version %s, challenge every %s s, last "
                     "%s s ago" % (channel.get("version"),
                                   channel.get("interval"),
                                   channel.get("last_challenge_age")))
    lines.append("health:      %s" % reply.get("health"))
    if reply.get("maintenance_remaining") is not None:
        lines.append("maintenance: %s s left"
                     % reply["maintenance_remaining"])
    notice = reply.get("last_notice")
    if notice:
        lines.append("last notice: %s in %s s (%s s ago)" % (
            notice.get("event"), notice.get("deadline"), notice.get("age")))
    lines.append("components:  %s" % ("none" if not reply.get("components")
                                      else ""))
    for name, body in sorted((reply.get("components") or {}).items()):
        progress = body.get("progress")
        lines.append("  %-24s %-7s%s %s" % (
            name, body.get("status"),
            "" if progress is None else " progress %s" % progress,
            body.get("reason") or ""))
    return [line.rstrip() for line in lines]


def main(argv: typing.Optional[typing.Sequence[str]] = None) -> int:
    """The console script; returns the exit status."""
    args = build_parser().parse_args(argv)
    func: typing.Callable[[argparse.Namespace], int] = args.func
    try:
        return func(args)
    except client.AgentError as err:
        print("%s: error: %s" % (PROG, err), file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
