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

"""Only ``metrics/`` imports prometheus_client, and only when enabled.

The monitor runs inside nova-compute, where metrics are off by default:
importing the runtime must not import prometheus_client.
"""

from __future__ import annotations

import pathlib
import re
import subprocess
import sys

PACKAGE = pathlib.Path(__file__).resolve().parents[3] / "nova_vm_heartbeat"
IMPORT = re.compile(r"^\s*(from|import)\s+prometheus_client\b", re.M)


def test_only_the_metrics_package_imports_it() -> None:
    importers = {str(path.relative_to(PACKAGE))
                 for path in PACKAGE.rglob("*.py")
                 if IMPORT.search(path.read_text())}
    assert importers and all(p.startswith("metrics/") for p in importers)


def test_the_service_does_not_import_it() -> None:
    code = ("import sys; import nova_vm_heartbeat.runtime.service; "
            "import nova_vm_heartbeat.admin.server; "
            "sys.exit('prometheus_client' in sys.modules)")
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0
