"""Fixtures shared by every functional tier (see ``fixtures.py``)."""

from tests.functional.fixtures import broker  # noqa: F401
from tests.functional.fixtures import rabbitmq  # noqa: F401
