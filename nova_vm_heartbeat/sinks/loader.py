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

"""Loading a sink by name from the ``nova_vm_heartbeat.sinks`` namespace."""

from __future__ import annotations

import importlib.metadata
import typing

from oslo_config import cfg
from stevedore import driver
from stevedore import exception as stevedore_exception

from nova_vm_heartbeat import exception
from nova_vm_heartbeat.sinks import base


def installed() -> typing.List[str]:
    """The names of the installed sinks, sorted."""
    entry_points = importlib.metadata.entry_points(group=base.NAMESPACE)
    return sorted({entry_point.name for entry_point in entry_points})


def _load_failed(manager: object, entry_point: typing.Any,
                 err: BaseException) -> None:
    raise exception.SinkLoadFailed(name=entry_point.name,
                                   reason=err) from err


def load(name: str, conf: cfg.ConfigOpts) -> base.Sink:
    """Create the sink called ``name``, giving it ``conf``.

    :raises SinkNotFound: no sink of that name is installed.
    :raises SinkLoadFailed: it is, but could not be imported or created,
        or it is not a :class:`~nova_vm_heartbeat.sinks.base.Sink`.
    """
    try:
        manager: driver.DriverManager[base.Sink] = driver.DriverManager(
            base.NAMESPACE, name, invoke_on_load=True, invoke_args=(conf,),
            on_load_failure_callback=_load_failed)
    except stevedore_exception.NoMatches as err:
        raise exception.SinkNotFound(
            name=name, available=", ".join(installed()) or "none") from err
    sink = manager.driver
    if not isinstance(sink, base.Sink):
        raise exception.SinkLoadFailed(
            name=name, reason="%r is not a Sink" % type(sink).__name__)
    return sink
