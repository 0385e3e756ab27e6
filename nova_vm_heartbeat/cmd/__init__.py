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

"""Console scripts of the host side."""

from __future__ import annotations

import sys


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


def refuse_eventlet() -> None:
    """Make ``import eventlet`` fail in this process from now on.

    Our programs never use eventlet. Libraries that use it when they can
    import it (futurist, oslo.utils' eventletutils) then do not, as in
    nova-compute's threading mode, and eventlet does not print its
    deprecation warning at every start. For console scripts only, before
    they import anything else (see :mod:`.launch`); a no-op if eventlet
    was already imported.
    """
    sys.modules.setdefault("eventlet", None)  # type: ignore[arg-type]
