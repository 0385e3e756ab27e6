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

"""End to end recovery of a hung guest on the mini-cloud, timed.

For each run: boot the test guest with ``hb.fault=hang@N`` (it stops
answering N s after boot), then time, from the moment it fell silent
(the verdict's ``generated_at`` minus its ``silent_for``):

* ``heartbeat_lost``: the verdict notification reaching the bus;
* ``masakari``: Masakari accepting the bridge's notification
  (its ``created_at``);
* ``active``: the server ACTIVE again after Masakari's stop and start;
* ``restored``: the ``heartbeat_restored`` notification.

Then the median and the maximum over the runs, and the cloud's footprint:
the resident memory of every process tools/minicloud.sh started (with
their children) and their CPU use while idle (no guest).

Needs a cloud brought up by ``tools/minicloud.sh up`` (it reads the
cloud's clouds.yaml and tempest.conf) and runs in its virtualenv::

    sudo /var/lib/nova-vm-heartbeat-minicloud/venv/bin/python \\
        benchmarks/recovery.py --runs 3
"""

from __future__ import annotations

import argparse
import configparser
import datetime
import json
import os
import pathlib
import statistics
import sys
import time
import typing

STATE_DIR = pathlib.Path(os.environ.get(
    "NVH_MINICLOUD_DIR", "/var/lib/nova-vm-heartbeat-minicloud"))
STAGES = ("heartbeat_lost", "masakari", "active", "restored")
TIMEOUT = 600.0


def utc_seconds(stamp: str) -> float:
    """A UTC ISO 8601 time (with or without a Z) as a Unix time."""
    when = datetime.datetime.fromisoformat(stamp.rstrip("Z"))
    return when.replace(tzinfo=datetime.timezone.utc).timestamp()


def wait(what: str, check: typing.Callable[[], typing.Any],
         timeout: float = TIMEOUT) -> typing.Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(1)
    raise SystemExit("timed out after %d s waiting for %s" % (timeout, what))


class Cloud:
    """The mini-cloud's APIs and its notification bus."""

    def __init__(self, state_dir: pathlib.Path):
        import openstack

        os.environ["OS_CLIENT_CONFIG_FILE"] = str(state_dir / "etc"
                                                  / "clouds.yaml")
        self.conn = openstack.connect(cloud="minicloud-admin")
        tempest = configparser.ConfigParser(interpolation=None)
        tempest.read(state_dir / "etc" / "tempest.conf")
        self.hb = tempest["heartbeat"]

    def image(self, fault_delay: int) -> typing.Any:
        return self.conn.image.create_image(
            name="nvh-bench-hang", data=bytes(1 << 20), disk_format="raw",
            container_format="bare", validate_checksum=False,
            allow_duplicates=True, wait=True,
            kernel_id=self.hb["kernel_id"], ramdisk_id=self.hb["ramdisk_id"],
            os_command_line="%s hb.fault=hang@%d" % (
                self.hb["base_command_line"], fault_delay),
            hw_qemu_guest_agent="yes")

    def boot(self, image: typing.Any) -> typing.Any:
        server = self.conn.compute.create_server(
            name="nvh-bench", image_id=image.id,
            flavor_id=self.hb["flavor_ref"], networks="none")
        return self.conn.compute.wait_for_server(server, wait=300)

    def masakari_created(self, uuid: str) -> typing.Optional[float]:
        for note in self.conn.instance_ha.notifications():
            if (note.payload or {}).get("instance_uuid") == uuid:
                return utc_seconds(note.created_at)
        return None

    def restarted(self, uuid: str) -> typing.Optional[float]:
        """When the server is ACTIVE after a finished start action."""
        actions = list(self.conn.compute.server_actions(uuid))
        started = [a for a in actions if a.action == "start"]
        server = self.conn.compute.get_server(uuid)
        if started and server.status == "ACTIVE":
            return time.time()
        return None


def one_run(cloud: Cloud, listener: typing.Any, fault_delay: int
            ) -> typing.Dict[str, float]:
    from nova_vm_heartbeat_tempest_plugin.common import notifications

    image = cloud.image(fault_delay)
    server = cloud.boot(image)
    try:
        lost = listener.wait_for(server.id, notifications.LOST, TIMEOUT)
        hang_at = (utc_seconds(lost.data["generated_at"])
                   - float(lost.data["silent_for"]))
        created = wait("the Masakari notification",
                       lambda: cloud.masakari_created(server.id))
        active = wait("ACTIVE after stop and start",
                      lambda: cloud.restarted(server.id))
        restored = listener.wait_for(server.id, notifications.RESTORED,
                                     TIMEOUT, after=lost.received_at)
        return {"heartbeat_lost": lost.received_at - hang_at,
                "masakari": created - hang_at,
                "active": active - hang_at,
                "restored": restored.received_at - hang_at,
                "fault_class": lost.data["fault_class"]}
    finally:
        cloud.conn.compute.delete_server(server)
        cloud.conn.compute.wait_for_delete(server, wait=300)
        cloud.conn.image.delete_image(image)


# --- footprint -------------------------------------------------------------

def session_pids(state_dir: pathlib.Path) -> typing.List[int]:
    """Every process in the sessions of the services' pid files."""
    leaders = set()
    for pidfile in (state_dir / "run").glob("*.pid"):
        text = pidfile.read_text().strip()
        if text.isdigit():
            leaders.add(int(text))
    pids = []
    for entry in pathlib.Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[3]) in leaders or int(entry.name) in leaders:
            pids.append(int(entry.name))
    return pids


def cpu_ticks(pids: typing.Iterable[int]) -> int:
    total = 0
    for pid in pids:
        try:
            fields = pathlib.Path("/proc/%d/stat" % pid).read_text(
            ).rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total


def rss_bytes(pids: typing.Iterable[int]) -> int:
    total = 0
    for pid in pids:
        try:
            for line in pathlib.Path("/proc/%d/status" % pid).read_text(
                    ).splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) * 1024
        except OSError:
            continue
    return total


def footprint(state_dir: pathlib.Path, seconds: float
              ) -> typing.Dict[str, float]:
    pids = session_pids(state_dir)
    hz = os.sysconf("SC_CLK_TCK")
    before = cpu_ticks(pids)
    time.sleep(seconds)
    used = (cpu_ticks(pids) - before) / hz
    return {"processes": len(pids), "rss_mib": rss_bytes(pids) / 2**20,
            "idle_cpu_percent_of_one_core": 100.0 * used / seconds}


# --- the report ------------------------------------------------------------

def report(runs: typing.List[typing.Dict[str, float]],
           cloud_footprint: typing.Dict[str, float]) -> str:
    lines = ["%-16s %8s %8s  %s" % ("from the hang to", "median", "max",
                                    "runs (s)")]
    for stage in STAGES:
        values = [run[stage] for run in runs]
        lines.append("%-16s %7.1fs %7.1fs  %s" % (
            stage, statistics.median(values), max(values),
            " ".join("%.1f" % v for v in values)))
    lines.append("fault classes: %s" % ", ".join(
        str(run["fault_class"]) for run in runs))
    lines.append("cloud: %(processes)d processes, %(rss_mib).0f MiB RSS, "
                 "idle %(idle_cpu_percent_of_one_core).1f %% of one core"
                 % cloud_footprint)
    return "\n".join(lines)


def main(argv: typing.Optional[typing.Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--fault-delay", type=int, default=30,
                        help="seconds after boot at which the guest hangs")
    parser.add_argument("--idle-seconds", type=float, default=30.0,
                        help="how long to sample the idle CPU use")
    parser.add_argument("--state-dir", type=pathlib.Path, default=STATE_DIR)
    parser.add_argument("--json", type=pathlib.Path,
                        help="also write the figures to this file")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))
    from nova_vm_heartbeat_tempest_plugin.common import notifications

    cloud = Cloud(args.state_dir)
    cloud_footprint = footprint(args.state_dir, args.idle_seconds)
    runs = []
    with notifications.VerdictListener(
            cloud.hb["transport_url"], "nova",
            "versioned_notifications") as listener:
        for number in range(1, args.runs + 1):
            run = one_run(cloud, listener, args.fault_delay)
            print("run %d: %s" % (number, json.dumps(run)), flush=True)
            runs.append(run)
    text = report(runs, cloud_footprint)
    print(text)
    if args.json:
        args.json.write_text(json.dumps(
            {"runs": runs, "footprint": cloud_footprint}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
