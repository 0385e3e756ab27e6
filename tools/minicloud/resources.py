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

"""The mini-cloud's resources, created through the cloud's own APIs.

Run by tools/minicloud.sh with the mini-cloud's virtualenv. Every command
is idempotent: what exists is kept, what is missing is created.

* ``identity``: project ``service``, role ``service``, one user per
  service (roles ``admin`` and ``service`` in ``service``: Nova sends a
  service token that keystonemiddleware accepts only with the ``service``
  role), the services and their endpoints;
* ``compute-ready HOST``: exit 0 once the compute service of HOST is up
  and its hypervisor is listed;
* ``cloud``: the test guest's kernel, ramdisk and root images, the
  flavors, the Masakari segment with HOST, and tempest.conf.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import sys
import time
import typing

import openstack

ADMIN_CLOUD = "minicloud-admin"
ROOT_DISK_BYTES = 1 << 20
SEGMENT = "nvh-minicloud"
DISK_GB = 1
#: Flavors: name -> (RAM MiB, extra specs). A short interval keeps the
#: live tests quick; "plain" has no heartbeat, for resizing to and from.
#: Their root disk is 1 GiB: Nova lets only admins boot image-backed
#: servers of a zero-disk flavor.
FLAVORS: typing.Dict[str, typing.Tuple[int, typing.Dict[str, str]]] = {
    "nvh-heartbeat": (192, {"hw:heartbeat": "true",
                            "hw:heartbeat_interval": "3",
                            "hw:heartbeat_timeout": "2",
                            "hw:heartbeat_failure_threshold": "3",
                            "hw:heartbeat_boot_grace": "300"}),
    "nvh-heartbeat-alt": (224, {"hw:heartbeat": "true",
                                "hw:heartbeat_interval": "3",
                                "hw:heartbeat_timeout": "2",
                                "hw:heartbeat_failure_threshold": "3",
                                "hw:heartbeat_boot_grace": "300"}),
    "nvh-plain": (192, {}),
    # No pvpanic device: a kernel panic looks like a hang.
    "nvh-heartbeat-nopanic": (192, {"hw:heartbeat": "true",
                                    "hw:heartbeat_interval": "3",
                                    "hw:heartbeat_timeout": "2",
                                    "hw:heartbeat_failure_threshold": "3",
                                    "hw:heartbeat_boot_grace": "300",
                                    "hw:heartbeat_panic": "false"}),
    # For images without our agent, judged when the boot grace ends.
    "nvh-heartbeat-short-grace": (192, {
        "hw:heartbeat": "true", "hw:heartbeat_interval": "3",
        "hw:heartbeat_timeout": "2", "hw:heartbeat_failure_threshold": "3",
        "hw:heartbeat_boot_grace": "120"}),
}


def connect(clouds: pathlib.Path) -> typing.Any:
    os.environ["OS_CLIENT_CONFIG_FILE"] = str(clouds)
    return openstack.connect(cloud=ADMIN_CLOUD)


def log(message: str) -> None:
    print(message, flush=True)


# --- identity --------------------------------------------------------------

def _ensure(find: typing.Callable[..., typing.Any],
            create: typing.Callable[..., typing.Any], name: str,
            **attrs: typing.Any) -> typing.Any:
    found = find(name, ignore_missing=True)
    if found is None:
        log("creating %s" % name)
        found = create(name=name, **attrs)
    return found


def ensure_identity(conn: typing.Any, password: str, region: str,
                    endpoints: typing.Sequence[str],
                    users: typing.Sequence[str]) -> None:
    ident = conn.identity
    domain = ident.find_domain("default")
    project = _ensure(ident.find_project, ident.create_project, "service",
                      domain_id=domain.id)
    roles = [_ensure(ident.find_role, ident.create_role, name)
             for name in ("admin", "service")]
    for name in users:
        user = _ensure(ident.find_user, ident.create_user, name,
                       domain_id=domain.id, password=password)
        for role in roles:
            ident.assign_project_role_to_user(project, user, role)
    for spec in endpoints:
        service_type, name, url = spec.split("=", 2)
        service = _ensure(ident.find_service, ident.create_service, name,
                          type=service_type)
        have = {e.interface for e in ident.endpoints(service_id=service.id)}
        for interface in ("public", "internal", "admin"):
            if interface not in have:
                ident.create_endpoint(service_id=service.id, url=url,
                                      interface=interface, region_id=region)


# --- compute ---------------------------------------------------------------

def compute_ready(conn: typing.Any, host: str) -> bool:
    services = [s for s in conn.compute.services()
                if s.binary == "nova-compute" and s.host == host]
    if not services or services[0].state != "up":
        return False
    return any(True for _ in conn.compute.hypervisors())


# --- images, flavors, segment ----------------------------------------------

def _image(conn: typing.Any, name: str, path: typing.Optional[pathlib.Path],
           data: typing.Optional[bytes], **props: typing.Any) -> typing.Any:
    found = conn.image.find_image(name, ignore_missing=True)
    if found is not None and found.status == "active":
        return found
    if found is not None:
        conn.image.delete_image(found)
    log("uploading image %s" % name)
    payload = path.read_bytes() if path is not None else data
    return conn.image.create_image(name=name, data=payload,
                                   validate_checksum=False,
                                   allow_duplicates=True, wait=True,
                                   **props)


def ensure_images(conn: typing.Any, image_dir: pathlib.Path
                  ) -> typing.Dict[str, str]:
    manifest = json.loads((image_dir / "manifest.json").read_text())
    key = manifest["key"]
    public = {"visibility": "public"}
    kernel = _image(conn, "nvh-guest-kernel-%s" % key,
                    image_dir / "vmlinuz", None, disk_format="aki",
                    container_format="aki", **public)
    ramdisk = _image(conn, "nvh-guest-ramdisk-%s" % key,
                     image_dir / "initramfs.cpio.gz", None,
                     disk_format="ari", container_format="ari", **public)
    root = _image(conn, "nvh-guest-%s" % key, None,
                  bytes(ROOT_DISK_BYTES), disk_format="raw",
                  container_format="bare", kernel_id=kernel.id,
                  ramdisk_id=ramdisk.id,
                  os_command_line=manifest["cmdline"],
                  hw_qemu_guest_agent="yes", **public)
    return {"kernel": kernel.id, "ramdisk": ramdisk.id, "root": root.id,
            "cmdline": manifest["cmdline"]}


def ensure_flavors(conn: typing.Any) -> typing.Dict[str, str]:
    ids = {}
    for name, (ram, specs) in FLAVORS.items():
        flavor = conn.compute.find_flavor(name, ignore_missing=True)
        if flavor is not None and (
                (flavor.ram, flavor.disk) != (ram, DISK_GB)
                or conn.compute.fetch_flavor_extra_specs(
                    flavor).extra_specs != specs):
            log("replacing flavor %s (it changed)" % name)
            conn.compute.delete_flavor(flavor)
            flavor = None
        if flavor is None:
            log("creating flavor %s" % name)
            flavor = conn.compute.create_flavor(name=name, ram=ram, vcpus=1,
                                                disk=DISK_GB, is_public=True)
            if specs:
                conn.compute.create_flavor_extra_specs(flavor, specs)
        ids[name] = flavor.id
    return ids


def ensure_segment(conn: typing.Any, host: str) -> None:
    ha = conn.instance_ha
    segment = next((s for s in ha.segments() if s.name == SEGMENT), None)
    if segment is None:
        log("creating Masakari segment %s" % SEGMENT)
        segment = ha.create_segment(name=SEGMENT, recovery_method="auto",
                                    service_type="COMPUTE")
    if not any(h.name == host for h in ha.hosts(segment.uuid)):
        log("adding host %s to the segment" % host)
        ha.create_host(segment.uuid, name=host, type="COMPUTE",
                       control_attributes="SSH")


def tempest_conf(conn: typing.Any, images: typing.Dict[str, str],
                 flavors: typing.Dict[str, str], host: str,
                 transport_url: str, state_dir: str,
                 host_command: str) -> str:
    auth = conn.config.config["auth"]
    return "\n".join([
        "[DEFAULT]",
        "log_file = %s/log/tempest.log" % state_dir,
        "[auth]",
        "admin_username = %s" % auth["username"],
        "admin_password = %s" % auth["password"],
        "admin_project_name = %s" % auth["project_name"],
        "admin_domain_name = Default",
        "use_dynamic_credentials = true",
        "create_isolated_networks = false",
        "[identity]",
        "uri_v3 = %s" % auth["auth_url"],
        "auth_version = v3",
        "region = %s" % conn.config.region_name,
        "[compute]",
        "image_ref = %s" % images["root"],
        "image_ref_alt = %s" % images["root"],
        "flavor_ref = %s" % flavors["nvh-heartbeat"],
        "flavor_ref_alt = %s" % flavors["nvh-heartbeat-alt"],
        "build_timeout = 300",
        "[service_available]",
        "neutron = false",
        "cinder = false",
        "swift = false",
        "glance = true",
        "nova = true",
        "masakari = true",
        "[validation]",
        "run_validation = false",
        "[heartbeat]",
        "kernel_id = %s" % images["kernel"],
        "ramdisk_id = %s" % images["ramdisk"],
        "base_command_line = %s" % images["cmdline"],
        "flavor_ref = %s" % flavors["nvh-heartbeat"],
        "flavor_ref_alt = %s" % flavors["nvh-heartbeat-alt"],
        "flavor_ref_plain = %s" % flavors["nvh-plain"],
        "flavor_ref_nopanic = %s" % flavors["nvh-heartbeat-nopanic"],
        "flavor_ref_short_grace = %s" % flavors["nvh-heartbeat-short-grace"],
        "interval = 3",
        "failure_threshold = 3",
        # Longer than the flavors' boot grace: an image without our agent
        # is judged only when the grace ends.
        "verdict_timeout = 420",
        "transport_url = %s" % transport_url,
        "host_access = true",
        "host_command = %s" % host_command,
        "compute_host = %s" % host,
        "[instance_ha]",
        "region = %s" % conn.config.region_name,
        ""])


# --- the command line ------------------------------------------------------

def main(argv: typing.Optional[typing.Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clouds", type=pathlib.Path, required=True)
    commands = parser.add_subparsers(dest="command", required=True)
    ident = commands.add_parser("identity")
    ident.add_argument("--password", required=True)
    ident.add_argument("--region", required=True)
    ident.add_argument("--endpoint", action="append", default=[],
                       help="TYPE=NAME=URL")
    ident.add_argument("users", nargs="+")
    ready = commands.add_parser("compute-ready")
    ready.add_argument("host")
    cloud = commands.add_parser("cloud")
    cloud.add_argument("--image-dir", type=pathlib.Path, required=True)
    cloud.add_argument("--host", required=True)
    cloud.add_argument("--tempest-conf", type=pathlib.Path, required=True)
    cloud.add_argument("--state-dir", required=True)
    cloud.add_argument("--transport-url", required=True)
    cloud.add_argument("--host-command", required=True)
    args = parser.parse_args(argv)
    conn = connect(args.clouds)
    if args.command == "identity":
        ensure_identity(conn, args.password, args.region, args.endpoint,
                        args.users)
    elif args.command == "compute-ready":
        return 0 if compute_ready(conn, args.host) else 1
    else:
        started = time.monotonic()
        images = ensure_images(conn, args.image_dir)
        flavors = ensure_flavors(conn)
        ensure_segment(conn, args.host)
        text = tempest_conf(conn, images, flavors, args.host,
                            args.transport_url, args.state_dir,
                            args.host_command)
        args.tempest_conf.write_text(text)
        args.tempest_conf.chmod(0o600)
        log("resources ready in %.1f s" % (time.monotonic() - started))
    return 0


if __name__ == "__main__":
    sys.exit(main())
