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

"""The destination's pre-live-migration check of the socket directory."""

from __future__ import annotations

from nova_vm_heartbeat.virt import live_migration


def test_the_same_directory_or_an_unknown_source_is_accepted(
        tmp_path) -> None:
    here = str(tmp_path)
    assert live_migration.refusal({live_migration.STAT: here}, here) is None
    assert live_migration.refusal({"uptime": None}, here) is None
    assert live_migration.refusal(None, here) is None


def test_another_directory_is_refused_with_the_fix(tmp_path) -> None:
    reason = live_migration.refusal({live_migration.STAT: "/srv/hb"},
                                    str(tmp_path))
    assert reason is not None
    assert "set the same [heartbeat] socket_dir on both hosts" in reason


def test_a_missing_directory_here_is_refused(tmp_path) -> None:
    missing = str(tmp_path / "missing")
    reason = live_migration.refusal({live_migration.STAT: missing}, missing)
    assert reason is not None and "does not exist" in reason
