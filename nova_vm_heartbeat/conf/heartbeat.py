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

"""Options of the ``[heartbeat]`` group: how instances are judged.

Three kinds of option live here: the settings an instance gets when its
flavor asks for nothing, the operator's floors, ceilings and caps that
clamp whatever a flavor or a guest asks for (the fields of
:class:`nova_vm_heartbeat.monitor.policy.Bounds`, with the same defaults),
and the bounds on what a guest may send (the fields of
:class:`nova_vm_heartbeat.protocol.limits.Limits`). The defaults are
those of the plain classes; ``tests/unit/conf`` checks that they agree.
"""

from __future__ import annotations

import typing

from oslo_config import cfg

from nova_vm_heartbeat.conf import groups
from nova_vm_heartbeat.protocol import limits

GROUP_NAME = "heartbeat"


def _group() -> cfg.OptGroup:
    return groups.fresh_group(
        GROUP_NAME,
        title="Heartbeat monitoring",
        help="""
How instances with ``hw:heartbeat=true`` are challenged and judged, the
bounds that clamp what a flavor or a guest may ask for, and the limits on
what a guest may send.
""")


defaults_opts: typing.List[cfg.Opt] = [
    cfg.FloatOpt(
        "interval",
        default=5.0,
        min=0.1,
        help="""
Seconds between two challenges on each channel of an instance.

This is the interval of instances whose flavor does not set
``hw:heartbeat_interval``. Like a flavor's value, it is clamped between
``min_interval`` and ``max_interval``. With the default timeout and
threshold, a hung guest is reported 10 to 15 seconds after it hangs; the
monitor's CPU grows in inverse proportion to the interval (see the
sizing section of the operations guide).

Related options:

* ``min_interval``, ``max_interval``
* ``timeout``, ``failure_threshold``
"""),
    cfg.FloatOpt(
        "timeout",
        default=2.5,
        min=0.1,
        help="""
Seconds a challenge may wait for its answer before it counts as missed.

This is the timeout of instances whose flavor does not set
``hw:heartbeat_timeout``. It is clamped between ``min_timeout`` and
``max_timeout``, and never exceeds the interval.

Related options:

* ``interval``
* ``min_timeout``, ``max_timeout``
"""),
    cfg.IntOpt(
        "failure_threshold",
        default=3,
        min=1,
        help="""
Consecutive missed heartbeats after which an instance's heartbeat is lost.

An instance is reported after about ``interval * failure_threshold``
seconds of silence. This is the threshold of instances whose flavor does
not set ``hw:heartbeat_failure_threshold``; it is clamped between
``min_failure_threshold`` and ``max_failure_threshold``.
"""),
    cfg.FloatOpt(
        "boot_grace",
        default=300.0,
        min=0.0,
        help="""
Longest wait, in seconds, for the first good answer after an instance
starts (or after the monitor starts).

Silence during this period is not a failure; the period ends early at the
first good answer. This is the grace of instances whose flavor does not
set ``hw:heartbeat_boot_grace``; it is clamped between ``min_boot_grace``
and ``max_boot_grace``.
"""),
]

bounds_opts: typing.List[cfg.Opt] = [
    cfg.FloatOpt(
        "min_interval",
        default=1.0,
        min=0.1,
        help="Shortest challenge interval a flavor may ask for, in seconds."),
    cfg.FloatOpt(
        "max_interval",
        default=300.0,
        min=0.1,
        help="Longest challenge interval a flavor may ask for, in seconds."),
    cfg.FloatOpt(
        "min_timeout",
        default=0.5,
        min=0.1,
        help="Shortest challenge timeout a flavor may ask for, in seconds."),
    cfg.FloatOpt(
        "max_timeout",
        default=60.0,
        min=0.1,
        help="""
Longest challenge timeout a flavor may ask for, in seconds. A timeout is
never longer than the instance's interval either.
"""),
    cfg.IntOpt(
        "min_failure_threshold",
        default=2,
        min=1,
        help="Smallest failure threshold a flavor may ask for."),
    cfg.IntOpt(
        "max_failure_threshold",
        default=20,
        min=1,
        help="Largest failure threshold a flavor may ask for."),
    cfg.FloatOpt(
        "min_boot_grace",
        default=30.0,
        min=0.0,
        help="Shortest boot grace a flavor may ask for, in seconds."),
    cfg.FloatOpt(
        "max_boot_grace",
        default=1800.0,
        min=0.0,
        help="Longest boot grace a flavor may ask for, in seconds."),
    cfg.IntOpt(
        "max_maintenance",
        default=3600,
        min=0,
        max=limits.MAX_MAINTENANCE,
        help="""
Longest maintenance window a guest is granted, in seconds.

A guest may ask to be left alone for a while (a planned restart of its
application, for example). Longer requests are cut to this; ``0`` refuses
every request.
"""),
    cfg.FloatOpt(
        "max_operation",
        default=3600.0,
        min=0.0,
        help="""
Longest time, in seconds, judgement is suspended for one platform operation
(snapshot, migration, resize, rescue...). After it, the instance is judged
again even if the operation has not ended.
"""),
    cfg.FloatOpt(
        "max_lifecycle",
        default=600.0,
        min=0.0,
        help="""
Longest time, in seconds, judgement is suspended for a lifecycle transition
seen by libvirt (a reboot, a shutdown in progress, a pause) before the
instance is judged again.
"""),
    cfg.FloatOpt(
        "rearm_grace",
        default=60.0,
        min=0.0,
        help="""
Seconds after a suspension ends during which missed heartbeats do not
count yet. The guest gets this long to answer again after a reboot,
migration or maintenance window.
"""),
    cfg.IntOpt(
        "verdict_burst",
        default=5,
        min=1,
        help="""
Verdicts one instance may produce at once before ``verdict_interval``
applies. This bounds the notifications an instance that flaps can cause.
"""),
    cfg.FloatOpt(
        "verdict_interval",
        default=300.0,
        min=0.0,
        help="""
Once ``verdict_burst`` is used up, seconds between two verdicts about the
same instance.
"""),
]

#: What a guest may ask of the platform: its recovery requests and its
#: maintenance windows, each with a budget of its own.
guest_budget_opts: typing.List[cfg.Opt] = [
    cfg.FloatOpt(
        "request_cooldown",
        default=900.0,
        min=0.0,
        help="""
Least seconds between two recovery requests granted to one guest. A guest
that asks again sooner is refused (``accepted: false``, with the reason)
and the refusal is counted; no notification is sent.
"""),
    cfg.IntOpt(
        "requests_per_hour",
        default=10,
        min=0,
        help="""
Recovery requests granted per hour to all the guests of this host
together. Beyond it, guests are refused until the hour slides on.
"""),
    cfg.FloatOpt(
        "qga_check_interval",
        default=60.0,
        min=0.1,
        help="""
Seconds between two QEMU guest agent challenges of an instance while our
heartbeat channel answers (QGA on demand).

A QGA challenge goes through libvirtd and costs the host about a hundred
times what a heartbeat costs, so while our agent answers, QGA is only
checked now and then to know it is there. When a heartbeat is missed,
QGA is challenged at once and then at the instance's interval, so that
the verdict's fault class (``agent_failure`` or ``guest_hung``) is known
when it is due. Instances whose agent never said hello, or that have no
heartbeat channel, use QGA as their heartbeat at their interval. Values
below an instance's interval act as its interval.
"""),
    cfg.FloatOpt(
        "maintenance_budget",
        default=7200.0,
        min=0.0,
        help="""
Seconds of maintenance one guest may be granted in all per
``maintenance_window``. Each grant is charged with ``rearm_grace`` on top,
so a guest cannot stay unjudged by asking for short windows again and
again. A guest whose budget is used up is refused.
"""),
    cfg.FloatOpt(
        "maintenance_window",
        default=86400.0,
        min=1.0,
        help="The sliding window of ``maintenance_budget``, in seconds."),
]

#: Where the episodes a restart must not forget are kept.
DEFAULT_STATE_FILE = "/var/lib/nova-vm-heartbeat/episodes.json"

episode_opts: typing.List[cfg.Opt] = [
    cfg.StrOpt(
        "state_file",
        default=DEFAULT_STATE_FILE,
        help="""
File where the monitor keeps, for each instance, its episode number and
the episode it reported and has not restored yet, so that a restart of the
monitor (or of nova-compute) neither announces an open episode again nor
forgets the ``heartbeat_restored`` of a guest that healed meanwhile. It is
small, written atomically by a thread of its own, and must be local and
not shared by two monitors. Empty: kept in memory only (a restart forgets
open episodes).
"""),
]

limits_opts: typing.List[cfg.Opt] = [
    cfg.IntOpt(
        "max_line_bytes",
        default=16384,
        min=64,
        help="""
Longest message a guest may send on the heartbeat channel, in bytes. A
longer one is a protocol error: it is counted and the channel is reset.
"""),
    cfg.IntOpt(
        "max_buffer_bytes",
        default=65536,
        min=65,
        help="""
Most bytes held for one heartbeat channel, partial and unread messages
together. Must be larger than ``max_line_bytes``.
"""),
    cfg.IntOpt(
        "max_depth",
        default=8,
        min=1,
        help="Deepest JSON nesting accepted from a guest."),
    cfg.IntOpt(
        "max_string_chars",
        default=256,
        min=1,
        help="""
Longest free-text string (the reasons a guest gives) accepted from a
guest, in characters.
"""),
    cfg.IntOpt(
        "max_components",
        default=32,
        min=1,
        help="Most components one health report from a guest may carry."),
    cfg.FloatOpt(
        "max_messages_per_second",
        default=20.0,
        min=0.1,
        help="""
Sustained rate of messages accepted from one guest. Messages beyond it
are protocol errors.
"""),
    cfg.IntOpt(
        "max_burst",
        default=40,
        min=1,
        help="""
Messages accepted from one guest at once before
``max_messages_per_second`` applies.
"""),
]

runtime_opts: typing.List[cfg.Opt] = [
    cfg.FloatOpt(
        "refresh_interval",
        default=10.0,
        min=1.0,
        help="""
Seconds between two looks at which instances this host runs. Instances
that start or stop between two looks are also seen through libvirt's
lifecycle events.
"""),
    cfg.FloatOpt(
        "stats_interval",
        default=0.5,
        min=0.1,
        help="""
Seconds between two samples of a silent instance's domain statistics (CPU
time, I/O), which tell a hung guest from a frozen QEMU process. Only
instances with a challenge half its timeout late are sampled (one libvirt
call each, about 0.15 ms), and at once when one times out. A verdict wants
one second of samples taken during the silence and waits up to 2 seconds
past its deadline for them: keep this at most half the shortest heartbeat
interval.
"""),
    cfg.IntOpt(
        "qga_workers",
        default=4,
        min=1,
        help="""
Threads that make blocking QEMU guest agent calls through libvirt, shared
by every instance of the host.
"""),
    cfg.FloatOpt(
        "reconnect_max",
        default=30.0,
        min=0.1,
        help="""
Longest back-off, in seconds, between two attempts to connect an
instance's heartbeat socket.
"""),
    cfg.IntOpt(
        "read_budget",
        default=65536,
        min=1024,
        help="""
Most bytes read from one guest's heartbeat channel per second. A guest
that sends more is not read again until the next second.
"""),
    cfg.StrOpt(
        "socket_dir",
        default="/var/lib/libvirt/qemu",
        help="""
Directory of the heartbeat channels' UNIX sockets on the host.

QEMU creates the socket of an instance at
``<socket_dir>/org.openstack.heartbeat.0.<instance name>.sock``. The
directory must be writable by the QEMU processes (libvirt's own channel
directory is) and the path must stay under 108 bytes.
"""),
]


# What one hostile guest may cost the host (issue 11).
abuse_opts = [
    cfg.FloatOpt(
        "guest_cpu_budget",
        default=0.01,
        min=0.001,
        max=1.0,
        help="""
CPU time the monitor may spend on one guest's heartbeat channel, in
seconds per second (0.01: 1% of one core), for reading, decoding and
handling what the guest sends, with one second's worth as a burst.

A guest over its budget is not read until the budget refills; it is
counted (the ``abuse`` metric and the status table) and logged at most
once a minute. Its judgement goes on: challenges are still sent, and
answers it cannot get read in time count as missed, so a guest that only
floods its channel is judged as one whose agent does not answer. A well
behaved agent costs well under 1% of this default.
"""),
]


#: Options read by the monitor inside nova-compute only.
nova_opts: typing.List[cfg.Opt] = [
    cfg.FloatOpt(
        "conductor_interval",
        default=60.0,
        min=1.0,
        help="""
Inside nova-compute only: seconds between two questions to the conductor
for the instances of this host (``InstanceList.get_by_host``). The driver
tells the monitor first hand of what it does and libvirt is asked on every
look, so this only catches what happens elsewhere (a flavor changed, an
instance deleted or shelved away while nova-compute was down). Its cost is
measured by ``benchmarks/conductor_query.py``.
"""),
    cfg.BoolOpt(
        "panic_device",
        default=True,
        help="""
Inside nova-compute only: give the guests of ``hw:heartbeat`` flavors a
pvpanic device (``<panic model='isa'/>``, x86 guests), so that a guest
kernel panic is a libvirt "crashed" event, reported as ``guest_crashed``
at once instead of a silence judged as ``guest_hung`` intervals later. A
flavor opts out with ``hw:heartbeat_panic=false``, an image with the
property ``hw_heartbeat_panic=false``.
"""),
]


def all_opts() -> typing.List[cfg.Opt]:
    """Every option of the group, in the order the sample shows them."""
    return (defaults_opts + bounds_opts + guest_budget_opts + limits_opts
            + runtime_opts + episode_opts + abuse_opts + nova_opts)


def register_opts(conf: cfg.ConfigOpts) -> None:
    groups.register(conf, _group(), all_opts())


def list_opts() -> typing.Dict[cfg.OptGroup, typing.List[cfg.Opt]]:
    return {_group(): all_opts()}
