"""Options of the ``[heartbeat_standalone]`` group.

They are read by ``nova-vm-heartbeat-monitor`` only, the monitor that runs
beside nova-compute instead of inside it.
"""

from __future__ import annotations

import socket
import typing

from oslo_config import cfg

GROUP_NAME = "heartbeat_standalone"


def _group() -> cfg.OptGroup:
    """A new group object each time.

    ``ConfigOpts.register_group`` keeps a shallow copy of the object it is
    given, so every ConfigOpts given the same object would share one
    table of options, overrides included.
    """
    return cfg.OptGroup(
        GROUP_NAME,
        title="Standalone monitor",
        help="""
Options of the standalone monitor, ``nova-vm-heartbeat-monitor``, which
finds the instances to monitor through libvirt instead of inside
nova-compute.
""")


standalone_opts: typing.List[cfg.Opt] = [
    cfg.StrOpt(
        "libvirt_uri",
        default="qemu:///system",
        help="""
The libvirt connection URI of the hypervisor whose domains are monitored:
the same as nova-compute's ``[libvirt] connection_uri`` (nova's own default
for QEMU and KVM is ``qemu:///system``).
"""),
    cfg.StrOpt(
        "host",
        sample_default="<the machine's hostname>",
        help="""
This compute host's name, as nova-compute knows it (its ``[DEFAULT] host``).
It becomes the notifications' publisher, ``nova-compute:<host>``. Defaults
to the machine's hostname, which is also nova's default.
"""),
]


def register_opts(conf: cfg.ConfigOpts) -> None:
    group = _group()
    conf.register_group(group)
    conf.register_opts(standalone_opts, group=group)


def list_opts() -> typing.Dict[cfg.OptGroup, typing.List[cfg.Opt]]:
    return {_group(): standalone_opts}


def host(conf: cfg.ConfigOpts) -> str:
    """The configured host name, or the machine's hostname."""
    configured: typing.Optional[str] = conf.heartbeat_standalone.host
    return configured or socket.gethostname()
