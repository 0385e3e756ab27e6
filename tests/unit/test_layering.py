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


# -- the import graph --------------------------------------------------------
#
# The checks above import code; these read it. Every module of the package
# is parsed and each of its imports of our own code becomes an edge between
# two nodes: a subpackage (``runtime``) or a module at the top of the
# package (``exception``, ``composition``). All imports count: at the top,
# inside functions (lazy imports), and under ``if typing.TYPE_CHECKING:``.
# A type-only import couples a module to another as much as any: the
# reader of the lower layer must then know the higher one.

#: The layers, lowest first, as doc/source/contributor/layering.rst gives
#: them. A node may import its own layer and the layers below, never one
#: above; ``__init__`` is ``nova_vm_heartbeat/__init__.py``.
LAYERS: typing.Tuple[typing.Tuple[str, ...], ...] = (
    ("__init__", "common"),
    ("protocol",),
    ("monitor",),
    ("guest",),
    ("exception", "version"),
    ("conf",),
    ("notifications", "sources"),
    ("sinks",),
    ("runtime",),
    ("admin", "metrics"),
    ("composition",),
    ("virt",),
    ("cmd", "masakari", "vitrage"),
)

_PACKAGE = "nova_vm_heartbeat"

Graph = typing.Dict[str, typing.Set[str]]


def _module_name(path: pathlib.Path) -> str:
    parts = path.relative_to(_REPO_ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _exists(module: str) -> bool:
    path = _REPO_ROOT.joinpath(*module.split("."))
    return path.with_suffix(".py").exists() or (path / "__init__.py").exists()


def _imported(path: pathlib.Path) -> typing.Iterator[str]:
    """The modules of ours that ``path`` imports, wherever in it."""
    import ast

    module = _module_name(path)
    here = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = here.split(".")
                parent = parts[:len(parts) - node.level + 1]
                base = ".".join(parent + ([base] if base else []))
            for alias in node.names:
                # "from pkg import mod" imports pkg.mod; "from mod import
                # name" imports mod.
                full = base + "." + alias.name
                yield full if _exists(full) else base


def _node(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def import_graph() -> Graph:
    """Which nodes each node of the package imports (itself left out)."""
    graph: Graph = {}
    for path in sorted((_REPO_ROOT / _PACKAGE).rglob("*.py")):
        source = _node(_module_name(path))
        targets = graph.setdefault(source, set())
        for imported in _imported(path):
            if imported.partition(".")[0] == _PACKAGE:
                targets.add(_node(imported))
        targets.discard(source)
    return graph


def cycles(graph: Graph) -> typing.List[typing.List[str]]:
    """The strongly connected components of more than one node (Tarjan)."""
    index: typing.Dict[str, int] = {}
    low: typing.Dict[str, int] = {}
    stack: typing.List[str] = []
    found: typing.List[typing.List[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in sorted(graph.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def upward(graph: Graph) -> typing.List[str]:
    """The imports from a layer into a higher one, as "a -> b" lines."""
    rank = {node: number for number, layer in enumerate(LAYERS)
            for node in layer}
    return ["%s -> %s" % (source, target)
            for source in sorted(graph) for target in sorted(graph[source])
            if rank[target] > rank[source]]


def test_every_node_has_a_layer() -> None:
    placed = {node for layer in LAYERS for node in layer}
    graph = import_graph()
    nodes = set(graph).union(*graph.values())
    assert nodes - placed == set(), (
        "give these a layer in LAYERS and in layering.rst")
    assert placed - nodes == set(), "LAYERS names what does not exist"


def test_no_import_cycle_between_packages() -> None:
    assert cycles(import_graph()) == []


def test_no_import_into_a_higher_layer() -> None:
    assert upward(import_graph()) == []


def test_the_checks_see_cycles_and_upward_imports() -> None:
    graph: Graph = {"runtime": {"admin", "sinks"}, "admin": {"runtime"},
                    "sinks": {"conf"}, "conf": set()}
    assert cycles(graph) == [["admin", "runtime"]]
    assert upward(graph) == ["runtime -> admin"]


def test_imports_in_functions_and_type_checking_blocks_count() -> None:
    graph = import_graph()
    # composition imports admin.server lazily and under TYPE_CHECKING.
    assert "admin" in graph["composition"]
    assert "metrics" in graph["composition"]
