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

"""The plugin's options: ``[heartbeat]``, ``[instance_ha]`` and
``[service_available] masakari`` in tempest.conf."""

from __future__ import annotations

import typing

from oslo_config import cfg

service_available_group = cfg.OptGroup(
    name="service_available", title="Available OpenStack services")

service_available_opts: typing.List[cfg.Opt] = [
    cfg.BoolOpt("masakari", default=True,
                help="Whether Masakari (instance-ha) is expected to be "
                "available; the recovery tests skip without it."),
]

heartbeat_group = cfg.OptGroup(
    name="heartbeat", title="nova-vm-heartbeat scenario tests",
    help="""
The test guest (tools/guest-image/build.py: a kernel, an initramfs with
qemu-ga and our agent, and a 1 MiB raw root disk) and how the tests watch
the verdicts. Each test uploads its own root image with kernel_id,
ramdisk_id and an os_command_line that tells the guest what to do (for
example hb.fault=hang@40: hang 40 s after boot).
""")

heartbeat_opts: typing.List[cfg.Opt] = [
    cfg.StrOpt("kernel_id",
               help="Glance image id of the test guest's kernel (aki). "
               "The tests skip when unset."),
    cfg.StrOpt("ramdisk_id",
               help="Glance image id of the test guest's initramfs (ari)."),
    cfg.StrOpt("base_command_line",
               default="console=ttyS0 quiet rootfstype=ramfs",
               help="Kernel command line of the test guest; the tests "
               "append their hb.* words to it."),
    cfg.StrOpt("flavor_ref",
               help="A flavor with hw:heartbeat=true (and a short "
               "hw:heartbeat_interval), at least 192 MiB of RAM."),
    cfg.StrOpt("flavor_ref_alt",
               help="A second hw:heartbeat=true flavor, to resize to."),
    cfg.StrOpt("flavor_ref_plain",
               help="A flavor without hw:heartbeat, to resize to."),
    cfg.StrOpt("flavor_ref_nopanic",
               help="A hw:heartbeat=true flavor with "
               "hw:heartbeat_panic=false (no pvpanic device), like "
               "flavor_ref otherwise: a kernel panic then looks like a "
               "hang. The test of that case skips when unset."),
    cfg.StrOpt("flavor_ref_short_grace",
               help="A hw:heartbeat=true flavor with a short "
               "hw:heartbeat_boot_grace (about 120 s), for the images "
               "without our agent, which are judged when the grace ends; "
               "flavor_ref when unset."),
    cfg.FloatOpt("interval", default=10.0,
                 help="The heartbeat interval of flavor_ref, in seconds."),
    cfg.IntOpt("failure_threshold", default=3,
               help="The failure threshold of flavor_ref."),
    cfg.IntOpt("fault_delay", default=45,
               help="Seconds after the guest is ready at which a test "
               "guest injects its fault: long enough for its heartbeat "
               "to be established first."),
    cfg.IntOpt("verdict_timeout", default=420,
               help="Seconds to wait for a verdict notification; more "
               "than the boot grace of flavor_ref (an image without our "
               "agent is judged when the grace ends)."),
    cfg.IntOpt("recovery_timeout", default=420,
               help="Seconds to wait for a Masakari notification to "
               "finish and the heartbeat to be restored."),
    cfg.IntOpt("quiet_period", default=40,
               help="Seconds a test watches a guest after an operation "
               "for a false alarm."),
    cfg.StrOpt("transport_url", secret=True,
               help="oslo.messaging URL of the notification bus the "
               "compute hosts publish versioned notifications on. The "
               "tests listen there with a pool (queue) of their own, "
               "deleted afterwards. Tests that need notifications skip "
               "when unset."),
    cfg.StrOpt("notification_exchange", default="nova",
               help="Exchange of Nova's versioned notifications."),
    cfg.StrOpt("notification_topic", default="versioned_notifications",
               help="Topic of Nova's versioned notifications "
               "([notifications] versioned_notifications_topics)."),
    cfg.BoolOpt("host_access", default=False,
                help="Whether the tests may act on the compute host "
                "through host_command. Tests that need it skip when "
                "false, and say so."),
    cfg.StrOpt("host_command",
               help="Command (split like a shell word list) that acts on "
               "the compute host of the tests' guests; the action and its "
               "arguments are appended: 'status' (print the monitor's "
               "'nova-vm-heartbeat status --json'), 'restart-compute' "
               "(stop nova-compute, start it, return once its service is "
               "up), 'reboot-host' (a simulated host reboot: stop "
               "nova-compute, destroy the cloud's domains, restart "
               "libvirtd where the host allows it, start nova-compute, "
               "return once it is up), 'dumpxml UUID' (the live domain "
               "XML of a server), 'compute-log' (nova-compute's log). "
               "tools/minicloud.sh host is one; see "
               "doc/source/install/tempest.rst."),
    cfg.IntOpt("host_command_timeout", default=300,
               help="Seconds a host_command may take."),
    cfg.StrOpt("compute_host",
               help="Name of the compute host the guests run on."),
]

instance_ha_group = cfg.OptGroup(
    name="instance_ha", title="Masakari (instance-ha) API client")

instance_ha_opts: typing.List[cfg.Opt] = [
    cfg.StrOpt("catalog_type", default="instance-ha",
               help="Catalog type of the Masakari service."),
    cfg.StrOpt("endpoint_type", default="publicURL",
               choices=["public", "admin", "internal", "publicURL",
                        "adminURL", "internalURL"],
               help="The endpoint type to use for the Masakari service."),
    cfg.StrOpt("region", default="",
               help="Region of the Masakari endpoint; empty: tempest's "
               "identity region."),
]
