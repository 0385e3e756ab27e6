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

"""Hypothesis strategies for valid protocol messages."""

from __future__ import annotations

import typing

from hypothesis import strategies as st

from nova_vm_heartbeat.protocol import events as ev
from nova_vm_heartbeat.protocol import fields

names = st.from_regex(fields.NAME_RE, fullmatch=True)
nonces = st.from_regex(fields.NONCE_RE, fullmatch=True)
# Free text as the codec accepts it: no controls, surrogates or bidi
# overrides.
texts = st.text(st.characters(blacklist_categories=("Cc", "Cs"),
                              blacklist_characters="\u202a\u202b\u202c"
                              "\u202d\u202e\u2066\u2067\u2068\u2069"),
                max_size=64)
counters = st.integers(0, fields.MAX_SAFE_INT)
clocks = st.floats(0, 1e9, allow_nan=False, allow_infinity=False)
seconds = st.floats(0.1, 3600, allow_nan=False)
windows = st.integers(0, 7 * 24 * 3600)


def _components() -> st.SearchStrategy[typing.Tuple[ev.Component, ...]]:
    component = st.builds(ev.Component, names, st.sampled_from(ev.Health),
                          texts, st.none() | counters)
    return st.lists(component, max_size=8,
                    unique_by=lambda c: c.name).map(tuple)


guest_messages: st.SearchStrategy[ev.Message] = st.one_of(
    st.builds(ev.Hello, st.just(1), st.just(1), names, names,
              st.just("") | names, st.lists(names, max_size=4).map(tuple),
              clocks),
    st.builds(ev.Report, st.sampled_from(ev.Health), _components(), clocks),
    st.builds(ev.Maintenance, windows, texts),
    st.builds(ev.Request, st.sampled_from(ev.RecoveryAction), texts),
    st.builds(ev.Bye, st.sampled_from(ev.ByeReason)),
)

host_messages: st.SearchStrategy[ev.Message] = st.one_of(
    st.builds(ev.Challenge, counters, nonces),
    st.builds(ev.Notice, st.sampled_from(ev.NoticeEvent),
              st.integers(0, 86400)),
    st.builds(ev.Ack, st.sampled_from(ev.AckSubject), st.booleans(),
              windows, texts),
    st.builds(ev.Error, st.sampled_from(ev.ErrorCode), texts,
              st.none() | st.tuples(st.integers(1, 9),
                                    st.integers(10, 255))),
    st.builds(ev.Welcome, st.integers(1, 255), seconds, seconds, windows,
              st.just("") | names),
)

responses = st.builds(ev.Response, counters, nonces,
                      st.sampled_from(ev.Health), _components(), clocks)

messages = st.one_of(guest_messages, host_messages, responses)
