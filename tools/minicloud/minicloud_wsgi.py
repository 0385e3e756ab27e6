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

"""The WSGI application of one mini-cloud service, for gunicorn.

``MINICLOUD_WSGI_APP`` names the module whose ``application`` is served
(``keystone.wsgi.api``, ``neutron.wsgi.api``...). Keystone, Neutron,
Placement and nova-api parse the process's argv with oslo.config, and
under gunicorn that argv is gunicorn's own: the worker would exit with
"unrecognized arguments" and be restarted for ever. So argv is cut to
the program name before the application is imported.

Neutron without service plugins answers ``GET /v2.0/ports`` with a 500
(``Port has no attribute 'port_forwardings'``) unless the port-forwarding
model is imported and the mappers configured before the first request.
"""

import importlib
import os
import sys

sys.argv = sys.argv[:1]
_MODULE = os.environ["MINICLOUD_WSGI_APP"]

application = importlib.import_module(_MODULE).application

if _MODULE.startswith("neutron."):
    import neutron.db.models.port_forwarding  # noqa: F401
    import sqlalchemy.orm

    sqlalchemy.orm.configure_mappers()
