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

"""The notification samples of ``doc/notification_samples/``, for tests.

One sample per event type documents what the standalone monitor and
nova-compute put on the wire. Tests compare what is emitted with the
sample, after replacing the fields that differ from run to run (the
instance, the time, the verdict id, ...) with their actual values or with
:data:`ANY`. Nothing here imports nova, so the unit tests and the Nova
tier (stestr) share it.
"""

from __future__ import annotations

import json
import pathlib
import typing
from unittest import mock

SAMPLES_DIR = (pathlib.Path(__file__).resolve().parents[1]
               / "doc" / "notification_samples")
#: Matches any value.
ANY = mock.ANY

JsonDict = typing.Dict[str, typing.Any]


def names() -> typing.List[str]:
    """The sample names (``instance-heartbeat_lost``, ...)."""
    return sorted(p.stem for p in SAMPLES_DIR.glob("*.json"))


def name_of(event_type: str) -> str:
    """The sample name of an event type."""
    return event_type.replace(".", "-")


def load(name: str) -> JsonDict:
    with open(SAMPLES_DIR / (name + ".json"), encoding="utf-8") as stream:
        sample: JsonDict = json.load(stream)
    return sample


def expected(name: str, publisher_id: typing.Any = None,
             **data: typing.Any) -> JsonDict:
    """The sample ``name`` with payload fields replaced by ``data``.

    :raises KeyError: a replaced field is not in the sample (the sample
        and the test disagree on the schema).
    """
    sample = load(name)
    fields = sample["payload"]["nova_object.data"]
    for key, value in data.items():
        if key not in fields:
            raise KeyError("%s is not a field of the %s sample" % (key, name))
        fields[key] = value
    if publisher_id is not None:
        sample["publisher_id"] = publisher_id
    return sample
