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

"""Option groups, made afresh for every ConfigOpts they are given to."""

from __future__ import annotations

import typing

from oslo_config import cfg


def fresh_group(name: str, title: str, help: str) -> cfg.OptGroup:
    """A new group object each time it is called.

    ``ConfigOpts.register_group`` keeps a shallow copy of the object it is
    given, so every ConfigOpts given the same object would share one
    table of options, overrides included.
    """
    return cfg.OptGroup(name, title=title, help=help)


def register(conf: cfg.ConfigOpts, group: cfg.OptGroup,
             opts: typing.List[cfg.Opt]) -> None:
    """Register ``group`` and its ``opts`` with ``conf``."""
    conf.register_group(group)
    conf.register_opts(opts, group=group)
