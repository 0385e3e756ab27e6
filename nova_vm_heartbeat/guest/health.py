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

"""Health messages that always fit on one line.

A ``response`` or ``report`` carries up to 32 components with reasons of
up to 256 characters; encoded as UTF-8 that can exceed the line limit.
Rather than fail to answer a challenge, :func:`encode_fitting` shortens
the reasons, then drops them, then drops healthy components, and as a last
resort sends the overall health alone.
"""

from __future__ import annotations

import dataclasses
import logging
import typing

from nova_vm_heartbeat import protocol

LOG = logging.getLogger(__name__)

Components = typing.Tuple[protocol.Component, ...]

#: Reason lengths tried, in characters, before reasons are dropped.
REASON_STEPS = (64, 16)


def _shorten(components: Components, limit: int) -> Components:
    def cut(reason: str) -> str:
        return reason if len(reason) <= limit else reason[:limit - 3] + "..."
    return tuple(dataclasses.replace(c, reason=cut(c.reason))
                 for c in components)


def candidates(components: Components) -> typing.Iterator[Components]:
    """``components`` as is, then ever smaller versions of them."""
    yield components
    for limit in REASON_STEPS:
        yield _shorten(components, limit)
    bare = tuple(dataclasses.replace(c, reason="") for c in components)
    yield bare
    yield tuple(c for c in bare if c.status is protocol.Health.FAILED)
    yield ()


def encode_fitting(
        build: typing.Callable[[Components], protocol.Message],
        components: Components,
        encode: typing.Callable[[protocol.Message], bytes]) -> bytes:
    """Encode ``build(components)``, shrinking the components until it fits.

    :param build: makes the message from (possibly shrunk) components; the
        overall health it carries must not depend on them.
    :param encode: turns a message into bytes; raises
        :class:`~nova_vm_heartbeat.protocol.LocalProtocolError` when it
        does not fit.
    :raises LocalProtocolError: not even the message without components
        could be encoded (for example, it is not allowed now).
    """
    error: typing.Optional[protocol.LocalProtocolError] = None
    for step, candidate in enumerate(candidates(components)):
        try:
            data = encode(build(candidate))
        except protocol.LocalProtocolError as err:
            error = err
            continue
        if step:
            LOG.debug("Health message shortened to fit the line limit "
                      "(step %d): %s", step, error)
        return data
    assert error is not None
    raise error


def response(challenge: protocol.Challenge, health: protocol.Health,
             monotonic: float) -> typing.Callable[[Components],
                                                  protocol.Message]:
    """A builder of the response to ``challenge``."""
    def build(components: Components) -> protocol.Message:
        return protocol.Response(seq=challenge.seq, nonce=challenge.nonce,
                                 health=health, components=components,
                                 monotonic=monotonic)
    return build


def report(health: protocol.Health, monotonic: float,
           ) -> typing.Callable[[Components], protocol.Message]:
    """A builder of an unsolicited health report."""
    def build(components: Components) -> protocol.Message:
        return protocol.Report(health=health, components=components,
                               monotonic=monotonic)
    return build
