#!/usr/bin/env python3
"""Build the guest agent as one self-contained file: a Python zipapp.

The archive holds only what the agent needs inside a guest,
``nova_vm_heartbeat/__init__.py``, ``nova_vm_heartbeat/common/``,
``nova_vm_heartbeat/protocol/`` and ``nova_vm_heartbeat/guest/``, plus a
``__main__.py`` that runs the ``nova-vm-heartbeat-guest`` command line.
Copy it into an image and run it with the image's ``python3`` (3.8 or
newer)::

    python3 nova-vm-heartbeat-guest.pyz run

Standard library only. Prints the path of the archive it wrote.
"""

from __future__ import annotations

import argparse
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


def stage(root: pathlib.Path, staging: pathlib.Path) -> int:
    """Copy the agent's sources into ``staging``; how many files."""
    count = 0
    for entry in CONTENTS:
        for source in _python_files(root / entry):
            target = staging / source.relative_to(root)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
            count += 1
    (staging / "__main__.py").write_text(MAIN)
    return count


def build(output: pathlib.Path, root: pathlib.Path = ROOT) -> pathlib.Path:
    """Write the zipapp to ``output``; its path."""
    output.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as staging:
        if not stage(root, pathlib.Path(staging)):
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
    args = parser.parse_args(argv)
    print(build(args.output))
    return 0


if __name__ == "__main__":
    sys.exit(main())
