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

"""The HTTP endpoint Prometheus scrapes, on a thread of its own.

Each scrape is answered on its own short-lived thread (the standard
library's threading WSGI server); none of them touches the monitor's
state except through the collector's snapshot call.
"""

from __future__ import annotations

import logging
import socket
import socketserver
import threading
import typing
from wsgiref import simple_server

import prometheus_client
from prometheus_client import registry

from nova_vm_heartbeat import exception
from nova_vm_heartbeat.metrics.collector import Collector
from nova_vm_heartbeat.metrics.collector import Snapshotter
from nova_vm_heartbeat.runtime.options import MetricsEndpoint

LOG = logging.getLogger(__name__)

#: How often the server checks whether it should stop, in seconds.
POLL_INTERVAL = 0.1


class _Server(socketserver.ThreadingMixIn, simple_server.WSGIServer):
    daemon_threads = True


class _QuietHandler(simple_server.WSGIRequestHandler):
    """No access log line per scrape."""

    def log_message(self, format: str, *args: typing.Any) -> None:
        pass


class MetricsExporter:
    """Serves ``/metrics`` until stopped."""

    def __init__(self, endpoint: MetricsEndpoint, snapshot: Snapshotter):
        self.endpoint = endpoint
        self.registry = registry.CollectorRegistry(auto_describe=False)
        self.registry.register(Collector(snapshot, endpoint.per_instance))
        self._server: typing.Optional[_Server] = None
        self._thread: typing.Optional[threading.Thread] = None

    @property
    def port(self) -> int:
        """The port served (useful when 0 was configured)."""
        assert self._server is not None
        return int(self._server.server_address[1])

    def start(self) -> None:
        """Listen and serve.

        :raises EndpointFailed: the address cannot be bound.
        """
        where = "%s:%d" % (self.endpoint.address, self.endpoint.port)
        try:
            server_class = _server_class(self.endpoint)
            self._server = simple_server.make_server(
                self.endpoint.address, self.endpoint.port,
                prometheus_client.make_wsgi_app(self.registry),
                server_class, handler_class=_QuietHandler)
        except OSError as err:
            raise exception.EndpointFailed(
                what="metrics endpoint", where=where,
                reason=err.strerror or err) from err
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(POLL_INTERVAL,),
            daemon=True, name="heartbeat-metrics")
        self._thread.start()
        LOG.info("Prometheus metrics served at http://%(where)s/metrics",
                 {"where": where})

    def stop(self, timeout: float = 0.5) -> None:
        if self._server is None or self._thread is None:
            return
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout)
        self._server = self._thread = None


def _server_class(endpoint: MetricsEndpoint) -> typing.Type[_Server]:
    """The server class, for IPv4 or IPv6 as the address is."""
    family = socket.getaddrinfo(endpoint.address, endpoint.port,
                                type=socket.SOCK_STREAM)[0][0]

    class Server(_Server):
        address_family = family

    return Server
