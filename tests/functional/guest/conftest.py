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

"""Fixtures of the guest agent's functional tests: short socket paths, a
fake host, and agent processes that are always stopped."""

from __future__ import annotations

import pathlib
import shutil
import tempfile
import typing

import pytest

from tests.functional.guest import harness


@pytest.fixture
def workdir() -> typing.Iterator[pathlib.Path]:
    """A directory with a short path: AF_UNIX paths hold 107 bytes."""
    path = tempfile.mkdtemp(prefix="hb-", dir="/tmp")
    try:
        yield pathlib.Path(path)
    finally:
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def host(workdir: pathlib.Path) -> typing.Iterator[harness.FakeHost]:
    fake = harness.FakeHost(str(workdir / "port.sock"))
    try:
        yield fake
    finally:
        fake.close()


AgentFactory = typing.Callable[..., harness.AgentProcess]


@pytest.fixture
def agent_factory(workdir: pathlib.Path) -> typing.Iterator[AgentFactory]:
    """Starts agents; each is killed when the test ends.

    Arguments are those of :class:`harness.AgentProcess`. The logs are
    printed, so pytest shows them when a test fails.
    """
    started: typing.List[harness.AgentProcess] = []

    def start(**kwargs: typing.Any) -> harness.AgentProcess:
        process = harness.AgentProcess(workdir, **kwargs).start()
        started.append(process)
        return process

    try:
        yield start
    finally:
        for process in started:
            process.stop()
            print("---- agent log (%s) ----\n%s"
                  % (" ".join(process.command), process.log()))


@pytest.fixture
def agent(agent_factory: AgentFactory,
          host: harness.FakeHost) -> harness.AgentProcess:
    """An agent started against ``host``, its API socket ready."""
    process = agent_factory(extra=["--check-interval", "0.3",
                                   "--check-timeout", "1"])
    process.wait_for_socket()
    return process
