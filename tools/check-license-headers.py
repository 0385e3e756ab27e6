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

"""Check, or add, the Apache 2.0 license header of every Python file.

Every non-empty ``.py`` file of the package, its tests, the tools and the
benchmarks starts with OpenStack's standard Apache 2.0 header (after a
``#!`` line, if any). flake8's H102/H103 check files of more than ten
lines; this checks the short ones too. Empty files stay empty (hacking's
H104 refuses a file of comments only).

    tools/check-license-headers.py          # list the files without it
    tools/check-license-headers.py --add    # add it where it is missing

Standard library only. Exit status 1 when a file lacks the header.
"""

from __future__ import annotations

import argparse
import pathlib
import sys
import typing

ROOT = pathlib.Path(__file__).resolve().parent.parent
#: What is checked, relative to the repository root.
TREES = ("nova_vm_heartbeat", "nova_vm_heartbeat_tempest_plugin", "nova",
         "tests", "tools", "benchmarks", "doc/source", "releasenotes/source")
TOP_LEVEL = ("setup.py",)
SKIP_PARTS = {"__pycache__", "build", ".venv", ".tox"}

HEADER = """\
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
"""


def python_files(root: pathlib.Path = ROOT) -> typing.List[pathlib.Path]:
    """Every checked ``.py`` file, sorted."""
    found = [root / name for name in TOP_LEVEL if (root / name).is_file()]
    for tree in TREES:
        found += (path for path in (root / tree).rglob("*.py")
                  if not SKIP_PARTS & set(path.relative_to(root).parts))
    return sorted(found)


def has_header(text: str) -> bool:
    """Whether ``text`` is empty or has the header in its first lines."""
    if not text.strip():
        return True
    lines = text.splitlines(keepends=True)
    start = 1 if lines[0].startswith("#!") else 0
    return "".join(lines[start:start + 11]) == HEADER


def with_header(text: str) -> str:
    """``text`` with the header after its ``#!`` line, if any."""
    lines = text.splitlines(keepends=True)
    start = 1 if lines and lines[0].startswith("#!") else 0
    return "".join(lines[:start]) + HEADER + "\n" + "".join(lines[start:])


def main(argv: typing.Optional[typing.Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--add", action="store_true",
                        help="add the header to the files that lack it")
    args = parser.parse_args(argv)
    missing = [path for path in python_files()
               if not has_header(path.read_text(encoding="utf-8"))]
    for path in missing:
        if args.add:
            path.write_text(with_header(path.read_text(encoding="utf-8")),
                            encoding="utf-8")
        print(path.relative_to(ROOT))
    if missing and not args.add:
        print("%d file(s) without the Apache 2.0 header; add it with "
              "tools/check-license-headers.py --add" % len(missing),
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
