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

"""The session transition table."""

from __future__ import annotations

from nova_vm_heartbeat.protocol import events as ev
from nova_vm_heartbeat.protocol import schema
from nova_vm_heartbeat.protocol import state as st


def test_every_event_type_has_a_row() -> None:
    expected = set(ev.Message.__subclasses__()) | {ev.Resync,
                                                   ev.ConnectionClosed}
    assert set(st.TRANSITIONS) == expected


def test_every_state_is_reachable() -> None:
    targets = {target for row in st.TRANSITIONS.values()
               for target in row.values()}
    assert targets == set(st.SessionState)


def test_only_hello_leaves_await_hello_for_the_guest() -> None:
    allowed = {event for event, row in st.TRANSITIONS.items()
               if st.AWAIT_HELLO in row
               and schema.BY_CLASS.get(event, None) is not None
               and schema.BY_CLASS[event].sender == schema.GUEST}
    assert allowed == {ev.Hello}


def test_next_state() -> None:
    assert st.next_state(st.AWAIT_WELCOME, ev.Welcome) is st.ESTABLISHED
    assert st.next_state(st.ESTABLISHED, ev.Response) is st.ESTABLISHED
    assert st.next_state(st.AWAIT_HELLO, ev.Challenge) is None
    assert st.next_state(st.ESTABLISHED, ev.Bye) is st.CLOSED
    assert st.next_state(st.CLOSED, ev.Hello) is st.AWAIT_WELCOME
    assert st.next_state(st.ESTABLISHED, ev.Resync) is st.AWAIT_HELLO
    assert st.next_state(st.ESTABLISHED, ev.Error) is st.ESTABLISHED
