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

"""Every transition of the verdict table, against the rules it encodes."""

from __future__ import annotations

import itertools

import pytest

from nova_vm_heartbeat.monitor import machine as st
from nova_vm_heartbeat.monitor.machine import MonitorState as S
from nova_vm_heartbeat.monitor.machine import Trigger as T


def expected(state: S, trigger: T) -> S:
    """The rules, written independently of the table."""
    if trigger is T.CRASH:
        return S.FAILED                      # a crash is always a verdict
    if trigger is T.HALT:
        return S.INACTIVE                    # nothing runs: nothing to judge
    if state is S.SUSPENDED:
        return S.STARTING if trigger is T.RESUME else S.SUSPENDED
    if trigger is T.SUSPEND:
        return S.SUSPENDED
    if state is S.INACTIVE:
        restart = (T.GOOD, T.UNWELL, T.RESUME, T.BOOT)
        return S.STARTING if trigger in restart else S.INACTIVE
    if trigger is T.BOOT:
        return S.STARTING                    # a new boot: boot grace again
    if trigger is T.GOOD:
        return S.HEALTHY
    if trigger is T.UNWELL:
        return S.UNHEALTHY
    if state is S.STARTING:                  # silence is not judged yet
        return S.FAILED if trigger is T.GRACE_EXPIRED else S.STARTING
    if trigger is T.LOST:
        return S.FAILED
    if trigger is T.MISS and state in (S.HEALTHY, S.UNHEALTHY):
        return S.SUSPECT
    return state


@pytest.mark.parametrize("state,trigger",
                         list(itertools.product(S, T)))
def test_transition(state: S, trigger: T) -> None:
    assert st.next_state(state, trigger) is expected(state, trigger)


def test_table_is_complete() -> None:
    assert set(st.TRANSITIONS) == set(S)
    for row in st.TRANSITIONS.values():
        assert set(row) == set(T)


def test_judging_states() -> None:
    assert st.JUDGING == {S.HEALTHY, S.SUSPECT, S.UNHEALTHY}
