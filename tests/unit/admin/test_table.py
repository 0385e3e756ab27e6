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

"""The status table people read."""

from __future__ import annotations

from nova_vm_heartbeat.admin import table
from nova_vm_heartbeat.admin import wire
from tests.unit.admin import fakes


def instances():
    return [wire.instance(s) for s in (fakes.HEALTHY, fakes.FAILED,
                                       fakes.SUSPENDED)]


def test_times_read_well() -> None:
    assert table.age(None) == "-"
    assert table.age(0.42) == "0.4 s"
    assert table.age(125) == "2 min"
    assert table.age(7200) == "2.0 h"
    assert table.round_trip(0.00123) == "1.2 ms"
    assert table.round_trip(None) == "-"


def test_rows_hold_every_column() -> None:
    healthy, failed, suspended = [table.row(i) for i in instances()]
    assert healthy == (fakes.HEALTHY.uuid, "web-1", "healthy", "-",
                       "0.4 s", "1.2 ms", "heartbeat qga", "-", "-")
    # No display name: the domain name stands in.
    assert failed[1:5] == ("instance-00000002", "failed", "guest_hung",
                           "2 min")
    assert suspended[6:] == ("heartbeat(down)",
                             "operation:snapshot (59 min left)", "-")
    # What the guest did to the host: invalid input, CPU budget pauses.
    assert failed[8] == "cpu_budget 3, rejected 5012"


def test_the_table_is_aligned_and_summed_up() -> None:
    text = table.render(instances())
    lines = text.splitlines()
    assert lines[0].split() == ["UUID", "NAME", "STATE", "FAULT", "LAST",
                                "GOOD", "RTT", "CHANNELS", "SUSPENDED",
                                "ABUSE"]
    columns = {line.index(" ", 36) for line in lines[:4]}
    assert len(columns) == 1  # the uuid column has one width
    assert lines[-1] == "3 instances: 1 failed, 1 healthy, 1 suspended"
    assert table.render([]).splitlines()[-1] == "0 instances"
