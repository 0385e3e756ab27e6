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

"""Operator bounds clamp what a flavor or a guest asks for."""

from __future__ import annotations

import pytest

from nova_vm_heartbeat.monitor.policy import Bounds
from nova_vm_heartbeat.monitor.policy import Settings


@pytest.mark.parametrize("wanted,clamped", [
    (Settings(interval=0.1), Settings(interval=1.0, timeout=1.0)),
    (Settings(interval=1000), Settings(interval=300.0)),
    (Settings(interval=2, timeout=9), Settings(interval=2, timeout=2)),
    (Settings(timeout=0.01), Settings(timeout=0.5)),
    (Settings(failure_threshold=1), Settings(failure_threshold=2)),
    (Settings(failure_threshold=99), Settings(failure_threshold=20)),
    (Settings(boot_grace=0), Settings(boot_grace=30.0)),
    (Settings(boot_grace=1e6), Settings(boot_grace=1800.0)),
    (Settings(qga=True, heartbeat=False),
     Settings(qga=True, heartbeat=False)),
])
def test_clamp(wanted: Settings, clamped: Settings) -> None:
    assert Bounds().clamp(wanted) == clamped


def test_defaults_are_within_bounds() -> None:
    assert Bounds().clamp(Settings()) == Settings()
