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

"""The agent process against a host played by the test: the channel."""

from __future__ import annotations

import os
import pathlib
import signal
import time

from nova_vm_heartbeat import protocol
from tests.functional.guest import conftest
from tests.functional.guest import harness


def test_handshake_and_challenges(agent: harness.AgentProcess,
                                  host: harness.FakeHost) -> None:
    hello = host.handshake()
    assert hello.agent == "nova-vm-heartbeat-guest"
    assert hello.version == protocol.MAX_VERSION
    assert hello.min_version == protocol.MIN_VERSION
    assert "components" in hello.capabilities
    for _ in range(3):
        response = host.challenge()
        assert response.health is protocol.Health.OK
        assert response.components == ()
    assert host.errors == []


def test_reconnects_when_the_host_comes_back(agent: harness.AgentProcess,
                                             host: harness.FakeHost) -> None:
    host.handshake()
    host.challenge()
    host.drop()
    started = time.monotonic()
    host.handshake(timeout=5.0)  # expects 0xFF then hello
    assert time.monotonic() - started < 5.0
    assert host.challenge().health is protocol.Health.OK
    assert agent.proc is not None and agent.proc.poll() is None


def test_connects_once_the_host_listens(agent_factory: conftest.AgentFactory,
                                        workdir: pathlib.Path,
                                        ) -> None:
    process = agent_factory()
    process.wait_for_socket()
    time.sleep(0.5)  # the agent retries a port nobody listens on yet
    host = harness.FakeHost(str(workdir / "port.sock"))
    try:
        host.handshake(timeout=5.0)
        host.challenge()
    finally:
        host.close()


def test_host_resync_gets_a_fresh_hello(agent: harness.AgentProcess,
                                        host: harness.FakeHost) -> None:
    host.handshake()
    host.challenge()
    host.resync()
    host.expect(protocol.Hello)
    assert host.challenge().health is protocol.Health.OK


def test_hello_is_repeated_until_welcome(agent_factory: conftest.AgentFactory,
                                         host: harness.FakeHost) -> None:
    host.auto_welcome = False
    agent_factory(extra=["--hello-timeout", "0.3"])
    host.accept(resync=False)
    host.expect(protocol.Hello)
    first = time.monotonic()
    host.expect(protocol.Hello, timeout=3.0)  # after 0.3 s
    host.expect(protocol.Hello, timeout=3.0)  # after 0.6 s more
    assert time.monotonic() - first >= 0.8
    host.welcome()
    assert host.challenge().health is protocol.Health.OK


def test_sigterm_says_bye_with_the_reason_file(
        agent: harness.AgentProcess, host: harness.FakeHost) -> None:
    host.handshake()
    host.challenge()
    with open(agent.reason_file, "w") as stream:
        stream.write("reboot\n")
    agent.signal(signal.SIGTERM)
    bye = host.expect(protocol.Bye)
    assert bye.reason is protocol.ByeReason.REBOOT
    assert agent.wait() == 0
    assert not os.path.exists(agent.socket)


def test_sigint_says_bye_agent_stop(agent: harness.AgentProcess,
                                    host: harness.FakeHost) -> None:
    host.handshake()
    agent.signal(signal.SIGINT)
    assert host.expect(protocol.Bye).reason in (
        protocol.ByeReason.AGENT_STOP,)
    assert agent.wait() == 0


def test_stops_cleanly_without_a_host(agent: harness.AgentProcess) -> None:
    agent.signal(signal.SIGTERM)
    assert agent.wait() == 0
