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
