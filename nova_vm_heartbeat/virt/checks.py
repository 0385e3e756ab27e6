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

"""Configurations that make the monitor useless, said once at start.

nova-compute with our driver runs fine without heartbeats: a wrong
setting does not stop the service, so it must be said loudly, once, with
the exact fix. :func:`misconfiguration` finds them; the driver logs each
at ERROR when the host starts.
"""

from __future__ import annotations

import logging
import os
import typing

from oslo_config import cfg

LOG = logging.getLogger(__name__)

#: Nova's notification formats that send versioned notifications.
VERSIONED_FORMATS = ("versioned", "both")


def misconfiguration(conf: cfg.ConfigOpts) -> typing.List[str]:
    """What in ``conf`` keeps the monitor from doing its job, with fixes."""
    found: typing.List[str] = []
    for check in (_notification_format, _notification_driver,
                  _socket_dir, _admin_dir):
        problem = check(conf)
        if problem:
            found.append(problem)
    return found


def log_misconfiguration(conf: cfg.ConfigOpts) -> None:
    """Log each problem :func:`misconfiguration` finds, at ERROR."""
    for problem in misconfiguration(conf):
        LOG.error("Heartbeat monitoring is misconfigured: %(problem)s",
                  {"problem": problem})


def _notification_format(conf: cfg.ConfigOpts) -> typing.Optional[str]:
    fmt = conf.notifications.notification_format
    if fmt in VERSIONED_FORMATS:
        return None
    return ("[notifications] notification_format is %r, so Nova drops every "
            "heartbeat notification; set [notifications] "
            "notification_format = versioned (or both) in nova.conf on "
            "this host" % fmt)


def _notification_driver(conf: cfg.ConfigOpts) -> typing.Optional[str]:
    try:
        drivers = list(conf.oslo_messaging_notifications.driver or [])
    except (cfg.NoSuchOptError, cfg.NoSuchGroupError):
        return None  # oslo.messaging registers it with Nova's notifier
    if drivers and any(d != "noop" for d in drivers):
        return None
    return ("[oslo_messaging_notifications] driver is %s, so no heartbeat "
            "notification leaves this host; set "
            "[oslo_messaging_notifications] driver = messagingv2 in "
            "nova.conf on this host" % (drivers or "empty"))


def _socket_dir(conf: cfg.ConfigOpts) -> typing.Optional[str]:
    path = conf.heartbeat.socket_dir
    if os.path.isdir(path):
        return None
    return ("[heartbeat] socket_dir %r does not exist, so QEMU cannot create"
            " the heartbeat channel and a monitored instance does not start;"
            " create it, writable by the user QEMU runs as (mkdir -p %s; "
            "chown libvirt-qemu: %s), or set [heartbeat] socket_dir to "
            "libvirt's channel directory" % (path, path, path))


def _admin_dir(conf: cfg.ConfigOpts) -> typing.Optional[str]:
    group = conf.heartbeat_admin
    if not group.enabled:
        return None
    directory = os.path.dirname(group.socket_path) or "."
    existing = directory
    while not os.path.isdir(existing):
        existing = os.path.dirname(existing) or "."
    if existing == directory or os.access(existing, os.W_OK | os.X_OK):
        return None
    return ("the directory of [heartbeat_admin] socket_path %r does not "
            "exist and cannot be created by this process, so "
            "'nova-vm-heartbeat status' cannot ask the monitor; create %s "
            "writable by nova-compute's user, or set [heartbeat_admin] "
            "enabled = false" % (group.socket_path, directory))
