"""Fixtures of the configuration tests."""

from __future__ import annotations

from oslo_config import cfg
import pytest

from nova_vm_heartbeat import conf as heartbeat_conf


@pytest.fixture
def conf() -> cfg.ConfigOpts:
    """Every option of the project, registered and parsed from nothing."""
    conf = cfg.ConfigOpts()
    heartbeat_conf.register_opts(conf)
    conf([])
    return conf
