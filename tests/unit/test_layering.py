"""The inner layers import nothing but the standard library.

``protocol/`` and ``guest/`` run inside guests, where only a bare
``python3`` exists, and ``monitor/`` must stay pure policy. Each package in
:data:`STDLIB_ONLY_PACKAGES` is imported, with every submodule, in a fresh
interpreter whose import system refuses the host-side dependencies listed
in :data:`BLOCKED_MODULES` (and anything named ``oslo_*``).
"""

from __future__ import annotations

import pathlib
import subprocess
import sys
import textwrap

import pytest

#: Packages that must import with the standard library alone.
STDLIB_ONLY_PACKAGES = (
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
