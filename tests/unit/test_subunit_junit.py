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

"""tools/subunit-junit.py: stestr's streams as junit, readable back."""

from __future__ import annotations

import datetime
import pathlib
import subprocess
import sys
import typing
import xml.etree.ElementTree as ET

import subunit  # type: ignore[import-untyped]

SCRIPT = pathlib.Path(__file__).parents[2] / "tools" / "subunit-junit.py"


def stream(path: pathlib.Path, *tests: typing.Tuple[str, str, str]) -> None:
    """A subunit v2 stream of finished tests: (id, status, details)."""
    with path.open("wb") as out:
        result = subunit.StreamResultToBytes(out)
        at = datetime.datetime(2026, 12, 7, tzinfo=datetime.timezone.utc)
        for test_id, status, text in tests:
            result.status(test_id=test_id, test_status="inprogress",
                          timestamp=at)
            if text:
                result.status(test_id=test_id, file_name="traceback",
                              file_bytes=text.encode("utf-8"),
                              mime_type="text/plain;charset=utf8",
                              eof=True, timestamp=at)
            result.status(test_id=test_id, test_status=status,
                          timestamp=at)


def test_a_failure_with_terminal_codes_in_its_log_is_counted(
        tmp_path: pathlib.Path) -> None:
    # A failed tempest test carries its log: colour codes (ESC) and other
    # characters XML 1.0 cannot hold. The file must still parse, or the
    # summary counts nothing at all.
    stream(tmp_path / "first.subunit",
           ("plugin.tests.A.test_ok", "success", ""),
           ("plugin.tests.A.test_bad", "fail",
            "Traceback\n\x1b[31mAssertionError\x1b[0m \x00 \x0b end"),
           ("plugin.tests.A.test_skipped", "skip", "not here"))
    out = tmp_path / "live.xml"
    subprocess.run([sys.executable, str(SCRIPT), str(out),
                    "first=%s" % (tmp_path / "first.subunit")], check=True)
    [suite] = ET.parse(out).getroot()
    assert (suite.get("name"), suite.get("tests"), suite.get("failures"),
            suite.get("skipped")) == ("first", "3", "1", "1")
    failure = suite.find("testcase[@name='test_bad']/failure")
    assert failure is not None and failure.text is not None
    assert "\\x1b[31mAssertionError\\x1b[0m \\x00 \\x0b end" in failure.text
