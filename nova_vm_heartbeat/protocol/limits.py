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

"""The bounds every heartbeat channel enforces on its peer.

Each bound is explicit, has a conservative default, and is configurable by
building a :class:`Limits` with other values. The defaults are generous for
a well behaved guest agent and small enough that a hostile guest costs the
host a few tens of KiB per channel at most.
"""

from __future__ import annotations

import dataclasses

#: Longest maintenance window a guest may ask for or be granted (7 days).
#: Operators clamp it further with ``[heartbeat] max_maintenance``.
MAX_MAINTENANCE = 7 * 24 * 3600


@dataclasses.dataclass(frozen=True)
class Limits:
    """Bounds applied to everything received from the peer.

    :param max_line_bytes: longest accepted line, newline excluded.
    :param max_buffer_bytes: most bytes held for one channel, partial line
        and complete unread lines together.
    :param max_depth: deepest accepted JSON nesting (objects and arrays).
    :param max_string_chars: longest accepted free-text string (the
        ``reason`` fields). Names and identifiers have their own fixed
        bound of 64 characters.
    :param max_components: most components one health message may carry.
    :param max_messages_per_second: sustained rate of accepted messages.
    :param max_burst: messages accepted at once before the sustained rate
        applies.
    """

    max_line_bytes: int = 16384
    max_buffer_bytes: int = 65536
    max_depth: int = 8
    max_string_chars: int = 256
    max_components: int = 32
    max_messages_per_second: float = 20.0
    max_burst: int = 40

    def __post_init__(self) -> None:
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if isinstance(value, bool) or value <= 0:
                raise ValueError("Limits.%s must be positive, not %r"
                                 % (field.name, value))
        if self.max_buffer_bytes < self.max_line_bytes + 1:
            raise ValueError("Limits.max_buffer_bytes must hold at least "
                             "one line of max_line_bytes")


DEFAULT_LIMITS = Limits()
