#!/usr/bin/env python3
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

"""Create the nova-compute service record of the mini-cloud's host.

nova-compute refuses its first start when the hypervisor already has
domains (``_sanity_check_new_host``: "My hypervisor has existing
instances, but I appear to be a new service"). On a machine whose
libvirtd also runs other people's guests, which this cloud must leave
alone, that check would always fire. With the record made beforehand,
nova-compute starts as an existing service; it only ever acts on the
domains of its own instances.

Usage: compute_service.py NOVA_CONF HOST (with the mini-cloud's venv).
"""

from __future__ import annotations

import sys


def main(argv: list[str]) -> int:
    conf_file, host = argv
    from nova import config
    from nova import context
    from nova import exception
    from nova import objects

    config.parse_args(["compute_service", "--config-file", conf_file])
    objects.register_all()
    ctxt = context.get_admin_context()
    try:
        objects.Service.get_by_host_and_binary(ctxt, host, "nova-compute")
        print("service nova-compute on %s exists" % host)
    except exception.NotFound:
        objects.Service(ctxt, host=host, binary="nova-compute",
                        topic="compute", report_count=0).create()
        print("created service nova-compute on %s" % host)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
