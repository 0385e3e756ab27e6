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

"""Component registry: TTLs, expiry and aggregation, with a fake clock."""

from __future__ import annotations

import typing

import pytest

from nova_vm_heartbeat.guest import components
from nova_vm_heartbeat import protocol
from tests.unit.guest import fakes

OK = protocol.Health.OK
FAILED = protocol.Health.FAILED


@pytest.fixture
def clock() -> fakes.FakeClock:
    return fakes.FakeClock()


@pytest.fixture
def registry(clock: fakes.FakeClock) -> components.Registry:
    return components.Registry(clock)


def _by_name(registry: components.Registry,
             ) -> typing.Dict[str, protocol.Component]:
    return {c.name: c for c in registry.snapshot().components}


def test_empty_registry_is_healthy(registry: components.Registry) -> None:
    assert registry.snapshot() == components.Snapshot(OK, ())
    assert registry.next_expiry() is None


def test_registered_component_is_ok_until_its_ttl(
        registry: components.Registry, clock: fakes.FakeClock) -> None:
    registry.register("web", 30)
    clock.advance(29.9)
    assert registry.snapshot().health is OK
    assert registry.next_expiry() == pytest.approx(1030.0)
    clock.advance(0.1)
    snapshot = registry.snapshot()
    assert snapshot.health is FAILED
    assert snapshot.components == (
        protocol.Component("web", FAILED, "no report for 30 s"),)
    assert registry.next_expiry() is None


def test_reports_renew_the_ttl(registry: components.Registry,
                               clock: fakes.FakeClock) -> None:
    registry.register("web", 10)
    for _ in range(5):
        clock.advance(9)
        registry.notify("web", OK, progress=int(clock.now))
    assert registry.snapshot().health is OK
    assert _by_name(registry)["web"].progress == 1045


def test_expired_component_recovers_when_it_reports(
        registry: components.Registry, clock: fakes.FakeClock) -> None:
    registry.register("web", 1)
    clock.advance(5)
    assert registry.snapshot().health is FAILED
    registry.notify("web", OK, "back")
    assert _by_name(registry)["web"] == protocol.Component("web", OK, "back")


def test_any_failed_component_fails_the_guest(
        registry: components.Registry) -> None:
    registry.register("a", 60)
    registry.notify("b", FAILED, "broken", ttl=60)
    registry.register("c", 60)
    snapshot = registry.snapshot()
    assert snapshot.health is FAILED
    assert [c.name for c in snapshot.components] == ["a", "b", "c"]
    registry.notify("b", OK)
    assert registry.snapshot().health is OK


def test_progress_is_kept_when_a_report_has_none(
        registry: components.Registry) -> None:
    registry.notify("web", OK, progress=5, ttl=60)
    registry.notify("web", FAILED, "stuck")
    assert _by_name(registry)["web"] == protocol.Component(
        "web", FAILED, "stuck", 5)


def test_notify_needs_registration_or_ttl(
        registry: components.Registry) -> None:
    with pytest.raises(components.ComponentError, match="not registered"):
        registry.notify("web", OK)
    registry.notify("web", OK, ttl=5)
    assert "web" in registry


def test_unregister(registry: components.Registry) -> None:
    registry.register("web", 5)
    registry.unregister("web")
    assert len(registry) == 0
    with pytest.raises(components.ComponentError, match="not registered"):
        registry.unregister("web")
    registry.discard("web")  # no error


def test_component_count_is_bounded(registry: components.Registry) -> None:
    for index in range(32):
        registry.register("c%d" % index, 60)
    with pytest.raises(components.ComponentError,
                       match="already 32 components"):
        registry.register("one-too-many", 60)
    with pytest.raises(components.ComponentError):
        registry.notify("one-too-many", OK, ttl=60)
    registry.register("c0", 120)  # renewing is still fine
    assert len(registry) == 32


@pytest.mark.parametrize("name", ["", "-x", "a b", "x" * 65, "é", "a/b"])
def test_invalid_names_are_refused(registry: components.Registry,
                                   name: str) -> None:
    with pytest.raises(components.ComponentError, match="invalid component"):
        registry.register(name, 10)


@pytest.mark.parametrize("ttl", [0, -1, 0.05, 86401])
def test_invalid_ttls_are_refused(registry: components.Registry,
                                  ttl: float) -> None:
    with pytest.raises(components.ComponentError, match="ttl"):
        registry.register("web", ttl)


def test_invalid_progress_is_refused(registry: components.Registry) -> None:
    with pytest.raises(components.ComponentError, match="progress"):
        registry.notify("web", OK, progress=-1, ttl=5)


def test_reasons_are_cleaned_and_bounded(
        registry: components.Registry) -> None:
    registry.notify("web", FAILED, "line one\nline\x00two\x7f", ttl=5)
    assert _by_name(registry)["web"].reason == "line one line two"
    registry.notify("web", FAILED, "x" * 1000)
    reason = _by_name(registry)["web"].reason
    assert len(reason) == 256 and reason.endswith("...")


def test_signature_follows_status_not_reason(
        registry: components.Registry) -> None:
    registry.notify("web", FAILED, "one", ttl=5)
    before = registry.snapshot().signature()
    registry.notify("web", FAILED, "two")
    assert registry.snapshot().signature() == before
    registry.notify("web", OK)
    assert registry.snapshot().signature() != before
