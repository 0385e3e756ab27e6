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
