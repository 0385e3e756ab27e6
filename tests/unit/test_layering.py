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

"""The inner layers import nothing but the standard library.

``common/``, ``protocol/`` and ``guest/`` run inside guests, where only a bare
``python3`` exists, and ``monitor/`` must stay pure policy. Each package in
:data:`STDLIB_ONLY_PACKAGES` is imported, with every submodule, in a fresh
interpreter whose import system refuses the host-side dependencies listed
in :data:`BLOCKED_MODULES` (and anything named ``oslo_*``).

Only ``virt/`` may import nova: every other package is imported with
``nova`` refused, and ``virt/`` itself under Nova's threading mode, where
importing eventlet fails.
"""

from __future__ import annotations

import os
import pathlib
import subprocess
import sys
import textwrap
import typing

import pytest

#: Packages that must import with the standard library alone.
STDLIB_ONLY_PACKAGES = (
    "nova_vm_heartbeat.common",
    "nova_vm_heartbeat.protocol",
    "nova_vm_heartbeat.guest",
    "nova_vm_heartbeat.monitor",
)

#: Top-level modules that those packages must not import.
BLOCKED_MODULES = (
    "eventlet",
    "libvirt",
    "libvirt_qemu",
    "libvirtmod",
    "libvirtmod_qemu",
    "nova",
    "oslo_config",
    "oslo_log",
    "oslo_messaging",
    "pbr",
    "stevedore",
)

#: Any top-level module starting with one of these is blocked too.
BLOCKED_PREFIXES = ("oslo_",)

_REPO_ROOT = pathlib.Path(__file__).resolve().parents[2]

# Runs in the child interpreter. It installs the blocker before anything
# of ours is imported, then imports the package and walks its submodules.
# ``__main__`` modules are not imported: doing so would start the program.
_PROBE = textwrap.dedent("""
    import importlib
    import importlib.abc
    import pkgutil
    import sys

    BLOCKED = set(sys.argv[2].split(","))
    PREFIXES = tuple(sys.argv[3].split(","))

    def is_blocked(name):
        top = name.partition(".")[0]
        return top in BLOCKED or top.startswith(PREFIXES)

    class Blocker(importlib.abc.MetaPathFinder):
        def find_spec(self, fullname, path, target=None):
            if is_blocked(fullname):
                raise ImportError(
                    "layering violation: %s imported %r"
                    % (sys.argv[1], fullname))
            return None

    preloaded = sorted(m for m in sys.modules if is_blocked(m))
    if preloaded:
        sys.exit("blocked modules loaded before the check: %s" % preloaded)
    sys.meta_path.insert(0, Blocker())

    def fail(name):
        raise ImportError("could not import %s" % name)

    package = importlib.import_module(sys.argv[1])
    print(package.__name__)
    for info in pkgutil.walk_packages(
            package.__path__, package.__name__ + ".", onerror=fail):
        if info.name.rpartition(".")[2] == "__main__":
            continue
        importlib.import_module(info.name)
        print(info.name)
""")


@pytest.mark.parametrize("package", STDLIB_ONLY_PACKAGES)
def test_imports_only_stdlib(package: str) -> None:
    result = subprocess.run(
        [sys.executable, "-c", _PROBE, package,
         ",".join(BLOCKED_MODULES), ",".join(BLOCKED_PREFIXES)],
        cwd=_REPO_ROOT, capture_output=True, text=True, timeout=60,
        check=False)
    assert result.returncode == 0, (
        "importing %s in a clean interpreter failed:\n%s"
        % (package, result.stderr))
    assert package in result.stdout.splitlines()


#: Only this package may import nova.
NOVA_PACKAGE = "nova_vm_heartbeat.virt"


def _packages_without_nova() -> typing.List[str]:
    root = _REPO_ROOT / "nova_vm_heartbeat"
    return sorted(
        "nova_vm_heartbeat." + path.name for path in root.iterdir()
        if (path / "__init__.py").exists()
        and "nova_vm_heartbeat." + path.name != NOVA_PACKAGE)


@pytest.mark.parametrize("package", _packages_without_nova())
def test_only_virt_imports_nova(package: str) -> None:
    # Blocks the top-level "nova" only ("-" is a prefix no module has).
    result = subprocess.run(
        [sys.executable, "-c", _PROBE, package, "nova", "-"],
        cwd=_REPO_ROOT, capture_output=True, text=True, timeout=120,
        check=False)
    assert result.returncode == 0, (
        "%s imports nova, which only %s may:\n%s"
        % (package, NOVA_PACKAGE, result.stderr))


# Imports virt/ as nova-compute does in its default mode: Nova's threading
# patch first, which makes any later "import eventlet" fail.
_NOVA_COMPUTE_PROBE = textwrap.dedent("""
    import importlib
    import pkgutil
    import sys

    from nova import monkey_patch
    monkey_patch.patch(backend="threading")
    package = importlib.import_module(sys.argv[1])
    for info in pkgutil.walk_packages(package.__path__,
                                      package.__name__ + "."):
        importlib.import_module(info.name)
    importlib.import_module("nova.virt.heartbeat_libvirt")
    print("ok")
""")


def test_virt_imports_under_novas_threading_mode() -> None:
    env = dict(os.environ, OS_NOVA_DISABLE_EVENTLET_PATCHING="1")
    result = subprocess.run(
        [sys.executable, "-c", _NOVA_COMPUTE_PROBE, NOVA_PACKAGE],
        cwd=_REPO_ROOT, capture_output=True, text=True, timeout=120,
        check=False, env=env)
    assert result.returncode == 0 and "ok" in result.stdout, result.stderr
