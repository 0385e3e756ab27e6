"""Console scripts of the host side."""

from __future__ import annotations

import contextlib
import sys
import typing


def use_native_threads() -> None:
    """Make oslo.service run on native threads, as nova-compute does.

    oslo.messaging imports oslo.service, which picks its backend the first
    time one of its components is used and picks eventlet unless told
    otherwise. A program calls this before anything imports
    ``oslo_messaging``; it does nothing if a backend was already chosen
    (inside nova-compute, nova chose it).

    The threading backend imports futurist, which imports eventlet if it
    can, and eventlet prints a deprecation warning when imported: so
    eventlet cannot be imported meanwhile, as in nova-compute's threading
    mode, and futurist knows it is not to be used.
    """
    from oslo_service import backend

    if backend.get_backend_type() is None:
        with _eventlet_unimportable():
            backend.init_backend(backend.BackendType.THREADING)


@contextlib.contextmanager
def _eventlet_unimportable() -> typing.Iterator[None]:
    if "eventlet" in sys.modules:  # already imported: nothing to avoid
        yield
        return
    sys.modules["eventlet"] = None  # type: ignore[assignment]
    try:
        yield
    finally:
        if sys.modules.get("eventlet", 0) is None:
            del sys.modules["eventlet"]
