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

"""Build the guest agent as one self-contained file: a Python zipapp.

The archive holds only what the agent needs inside a guest,
``nova_vm_heartbeat/__init__.py``, ``nova_vm_heartbeat/common/``,
``nova_vm_heartbeat/protocol/`` and ``nova_vm_heartbeat/guest/``, plus a
``__main__.py`` that runs the ``nova-vm-heartbeat-guest`` command line.
Copy it into an image and run it with the image's ``python3`` (3.8 or
newer)::

    python3 nova-vm-heartbeat-guest.pyz run

The archive carries the package's version in
``nova_vm_heartbeat/guest/VERSION`` (the agent reports it in ``hello``):
the installed distribution's, or pbr's from the git history, or
``--version``. Standard library only (pbr is used if importable). Prints
the path of the archive it wrote.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import pathlib
import shutil
import sys
import tempfile
import typing
import zipapp

ROOT = pathlib.Path(__file__).resolve().parent.parent
PACKAGE = "nova_vm_heartbeat"
#: What goes into the archive, relative to the repository root.
CONTENTS = (PACKAGE + "/__init__.py", PACKAGE + "/common",
            PACKAGE + "/protocol", PACKAGE + "/guest")
#: Where the archive records the package version (read by the agent).
VERSION_FILE = PACKAGE + "/guest/VERSION"
DISTRIBUTION = "nova-vm-heartbeat"
DEFAULT_OUTPUT = ROOT / "dist" / "nova-vm-heartbeat-guest.pyz"
INTERPRETER = "/usr/bin/env python3"

MAIN = '''\
"""Run the nova-vm-heartbeat guest agent's command line."""
import sys

from nova_vm_heartbeat.guest import cli

sys.exit(cli.main())
'''


def _python_files(path: pathlib.Path) -> typing.Iterator[pathlib.Path]:
    if path.is_file():
        yield path
        return
    for child in sorted(path.rglob("*.py")):
        if "__pycache__" not in child.parts:
            yield child


def package_version() -> typing.Optional[str]:
    """The version of this tree's package, or None if it cannot be told."""
    try:
        from pbr import version as pbr_version
        return str(pbr_version.VersionInfo(DISTRIBUTION).version_string())
    except Exception:  # pbr missing, or no git history and no metadata
        pass
    try:
        return importlib.metadata.version(DISTRIBUTION)
    except importlib.metadata.PackageNotFoundError:
        return None


def stage(root: pathlib.Path, staging: pathlib.Path,
          version: typing.Optional[str] = None) -> int:
    """Copy the agent's sources into ``staging``; how many files."""
    count = 0
    for entry in CONTENTS:
        for source in _python_files(root / entry):
            target = staging / source.relative_to(root)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
            count += 1
    (staging / "__main__.py").write_text(MAIN)
    if version:
        (staging / VERSION_FILE).write_text(version + "\n")
    return count


def build(output: pathlib.Path, root: pathlib.Path = ROOT,
          version: typing.Optional[str] = None) -> pathlib.Path:
    """Write the zipapp to ``output``; its path."""
    output.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as staging:
        if not stage(root, pathlib.Path(staging), version):
            raise SystemExit("no sources found under %s" % root)
        zipapp.create_archive(staging, str(output), interpreter=INTERPRETER,
                              compressed=True)
    return output


def main(argv: typing.Optional[typing.Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=pathlib.Path,
                        default=DEFAULT_OUTPUT,
                        help="where to write the archive (default: "
                        "dist/nova-vm-heartbeat-guest.pyz)")
    parser.add_argument("--version", default=None,
                        help="the version the agent reports (default: the "
                        "package's, from pbr or the installed metadata)")
    args = parser.parse_args(argv)
    version = args.version or package_version()
    if not version:
        print("warning: unknown package version; the agent will report "
              "'unknown' (use --version)", file=sys.stderr)
    print(build(args.output, version=version))
    return 0


if __name__ == "__main__":
    sys.exit(main())
