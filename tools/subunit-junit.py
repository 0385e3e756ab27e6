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

"""Write one junit XML file from stestr's subunit streams, one per mode.

Usage: subunit-junit.py OUT.xml LABEL=RUN.subunit [LABEL=RUN.subunit...]

The Nova tier runs the same tests twice (threading and eventlet mode), so
each run becomes a ``<testsuite name=LABEL>`` and every test id is
prefixed with ``LABEL.``: the summary in tools/test.sh counts both runs,
and a failure says in which mode. (``subunit2junitxml`` would need the
unmaintained ``junitxml`` package; python-subunit and testtools come with
stestr.)
"""

import re
import sys
import xml.etree.ElementTree as ET

import subunit
import testtools

#: subunit status -> the junit element that reports it (None: passed)
OUTCOMES = {"success": None, "fail": "failure", "uxsuccess": "failure",
            "skip": "skipped", "xfail": None}


def read(path):
    """The finished tests of a subunit v2 stream, as StreamToDict sees them."""
    tests = []
    with open(path, "rb") as stream:
        result = testtools.StreamToDict(tests.append)
        result.startTestRun()
        subunit.ByteStreamToStreamResult(
            stream, non_subunit_name="stdout").run(result)
        result.stopTestRun()
    return [t for t in tests if t["status"] in OUTCOMES]


#: What XML 1.0 cannot hold, even escaped: a failed tempest test's details
#: carry its log, with terminal colour codes (ESC). ElementTree writes them
#: as they are, and the file can then not be read back.
NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def details(test):
    text = "\n".join(content.as_text()
                     for content in test["details"].values())
    return NOT_XML.sub(lambda m: "\\x%02x" % ord(m.group()), text)


def suite(label, tests):
    element = ET.Element("testsuite", name=label)
    counts = {"failure": 0, "skipped": 0}
    total = 0.0
    for test in tests:
        classname, _, name = test["id"].rpartition(".")
        start, stop = (list(test["timestamps"]) + [None, None])[:2]
        seconds = (stop - start).total_seconds() if start and stop else 0.0
        total += seconds
        case = ET.SubElement(element, "testcase", name=name,
                             classname="%s.%s" % (label, classname),
                             time="%.3f" % seconds)
        outcome = OUTCOMES[test["status"]]
        if outcome is not None:
            counts[outcome] += 1
            ET.SubElement(case, outcome).text = details(test)
    element.set("tests", str(len(tests)))
    element.set("failures", str(counts["failure"]))
    element.set("errors", "0")
    element.set("skipped", str(counts["skipped"]))
    element.set("time", "%.3f" % total)
    return element


def main(argv):
    if len(argv) < 3 or not all("=" in a for a in argv[2:]):
        sys.exit(__doc__)
    merged = ET.Element("testsuites")
    for spec in argv[2:]:
        label, path = spec.split("=", 1)
        merged.append(suite(label, read(path)))
    ET.ElementTree(merged).write(argv[1], encoding="utf-8",
                                 xml_declaration=True)


if __name__ == "__main__":
    main(sys.argv)
