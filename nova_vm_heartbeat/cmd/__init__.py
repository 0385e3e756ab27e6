"""Console scripts of the host side."""

from __future__ import annotations


def use_native_threads() -> None:
    """Make oslo.service run on native threads, as nova-compute does.

    oslo.messaging imports oslo.service, which picks its backend the first
    time one of its components is used and picks eventlet unless told
    otherwise. A program calls this before anything imports
    ``oslo_messaging``; it does nothing if a backend was already chosen
    (inside nova-compute, nova chose it).
    """
    from oslo_service import backend

    if backend.get_backend_type() is None:
        backend.init_backend(backend.BackendType.THREADING)
