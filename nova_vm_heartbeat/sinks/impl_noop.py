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

"""The sink that drops everything.

It is also the shortest complete sink, and so the living documentation of
the interface: a sink is a class in the ``nova_vm_heartbeat.sinks``
namespace, created with the service's ``ConfigOpts``, whose ``send()``
takes a notification and returns at once. ``start()`` and ``stop()`` are
optional. A sink that keeps something to deliver later says in its
documentation how much it keeps, and what happens beyond that.
"""

from __future__ import annotations

from oslo_config import cfg

from nova_vm_heartbeat.notifications.payload import Notification
from nova_vm_heartbeat.sinks import base


class NoopSink(base.Sink):
    """Accepts every notification and delivers none of them."""

    def __init__(self, conf: cfg.ConfigOpts):
        self.conf = conf

    def send(self, notification: Notification) -> None:
        pass
