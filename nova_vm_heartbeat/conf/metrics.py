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

"""Options of the ``[heartbeat_metrics]`` group: Prometheus metrics."""

from __future__ import annotations

import typing

from oslo_config import cfg

from nova_vm_heartbeat.conf import groups

GROUP_NAME = "heartbeat_metrics"


def _group() -> cfg.OptGroup:
    return groups.fresh_group(
        GROUP_NAME,
        title="Prometheus metrics",
        help="""
An HTTP endpoint, off by default, from which Prometheus scrapes the
monitor's metrics (``/metrics``).
""")


metrics_opts: typing.List[cfg.Opt] = [
    cfg.BoolOpt(
        "enabled",
        default=False,
        help="""
Serve Prometheus metrics on ``bind_address``:``port``.
"""),
    cfg.HostAddressOpt(
        "bind_address",
        default="127.0.0.1",
        help="""
The address the metrics endpoint listens on. The endpoint has no
authentication: keep it on the loopback or a management network, and
let a local Prometheus agent or a proxy reach it.
"""),
    cfg.PortOpt(
        "port",
        default=9781,
        help="""
The TCP port of the metrics endpoint.
"""),
    cfg.BoolOpt(
        "per_instance",
        default=True,
        help="""
Export a round-trip histogram per instance and channel (15 series each).
Above about 1,000 instances, turn it off to export one histogram per
channel instead: at 10,000 instances a scrape is 20 MB and seconds of CPU
that the monitor loop competes with. Every other metric is the same.
"""),
]


def register_opts(conf: cfg.ConfigOpts) -> None:
    groups.register(conf, _group(), metrics_opts)


def list_opts() -> typing.Dict[cfg.OptGroup, typing.List[cfg.Opt]]:
    return {_group(): metrics_opts}
