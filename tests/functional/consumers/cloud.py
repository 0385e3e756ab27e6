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

"""Keystone and Nova, as far as masakari-api asks them.

masakari-api checks, when a host is added to a failover segment, that
Nova has a ``nova-compute`` service of that name: it logs in to Keystone
with its privileged user, finds Nova in the catalog and lists
``/os-services``. A real Keystone and nova-api are not part of these
tests, so :class:`ComputeCloud` answers exactly those two requests, from
a list of compute host names the test sets. Everything else is a 404, so
a new request from masakari-api shows up as a failure, not as a silent
success.
"""

from __future__ import annotations

import http.server
import json
import threading
import typing
import urllib.parse

TOKEN = "consumer-tests-token"


class ComputeCloud:
    """The identity and compute endpoints, on 127.0.0.1."""

    def __init__(self) -> None:
        self.compute_hosts: typing.Set[str] = set()
        #: Every request line seen, for failure messages.
        self.requests: typing.List[str] = []
        handler = _handler(self)
        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0),
                                                       handler)
        self.port = self._server.server_address[1]
        self.url = "http://127.0.0.1:%d" % self.port
        self.auth_url = self.url + "/identity/v3"
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        name="compute-cloud", daemon=True)

    def start(self) -> ComputeCloud:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)

    def token(self) -> typing.Dict[str, typing.Any]:
        endpoints = [{"id": interface, "interface": interface,
                      "region": "RegionOne", "region_id": "RegionOne",
                      "url": self.url + "/compute/v2.1"}
                     for interface in ("public", "internal", "admin")]
        return {"token": {
            "methods": ["password"], "expires_at": "2099-01-01T00:00:00Z",
            "issued_at": "2020-01-01T00:00:00Z",
            "user": {"id": "masakari", "name": "masakari",
                     "domain": {"id": "default", "name": "Default"}},
            "project": {"id": "service", "name": "service",
                        "domain": {"id": "default", "name": "Default"}},
            "roles": [{"id": "admin", "name": "admin"}],
            "catalog": [{"id": "nova", "type": "compute", "name": "nova",
                         "endpoints": endpoints}]}}

    def services(self, query: typing.Dict[str, typing.List[str]]
                 ) -> typing.Dict[str, typing.Any]:
        hosts = sorted(self.compute_hosts)
        if "host" in query:
            hosts = [h for h in hosts if h in query["host"]]
        return {"services": [
            {"id": index, "binary": "nova-compute", "host": host,
             "zone": "nova", "status": "enabled", "state": "up",
             "updated_at": "2020-01-01T00:00:00.000000",
             "disabled_reason": None, "forced_down": False}
            for index, host in enumerate(hosts, 1)]}


def _handler(cloud: ComputeCloud) -> type:
    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: typing.Any) -> None:
            cloud.requests.append(self.requestline)

        def _answer(self, status: int, body: object,
                    headers: typing.Optional[typing.Dict[str, str]] = None
                    ) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            if self.path == "/identity/v3/auth/tokens":
                self._answer(201, cloud.token(), {"X-Subject-Token": TOKEN})
            else:
                self._answer(404, {"error": "not here: %s" % self.path})

        def do_GET(self) -> None:
            url = urllib.parse.urlsplit(self.path)
            if url.path == "/compute/v2.1/os-services":
                self._answer(200, cloud.services(
                    urllib.parse.parse_qs(url.query)))
            else:
                self._answer(404, {"error": "not here: %s" % self.path})

    return Handler
