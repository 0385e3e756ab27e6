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

"""The reference in-guest agent of the heartbeat channel.

It runs inside the virtual machine on the image's own ``python3`` (3.8 or
newer) with nothing but the standard library and
:mod:`nova_vm_heartbeat.protocol`. One event loop (:mod:`.daemon`) serves
the virtio-serial port to the host, the application API socket
(:mod:`.listener`, :mod:`.api`) and the results of ``checks.d`` scripts
(:mod:`.checks`); the decisions are taken by :class:`.agent.Agent`, which
does no I/O. ``nova-vm-heartbeat-guest`` (:mod:`.cli`) runs the agent and
talks to it.

Importing any module of this package has no side effects.
"""

from __future__ import annotations

#: The agent's name in ``hello``.
AGENT_NAME = "nova-vm-heartbeat-guest"
#: The distribution whose version the agent reports.
DISTRIBUTION = "nova-vm-heartbeat"
#: Reported when the version is unknown.
UNKNOWN_VERSION = "unknown"
#: Where tools/build-guest-zipapp.py records the version in the zipapp.
VERSION_RESOURCE = "VERSION"


def agent_version() -> str:
    """The agent's version, or :data:`UNKNOWN_VERSION`.

    The version recorded in the zipapp the agent runs from, else the
    installed distribution's.
    """
    import pkgutil
    try:
        data = pkgutil.get_data(__name__, VERSION_RESOURCE)
    except OSError:
        data = None
    if data and data.strip():
        return data.decode("utf-8", "replace").strip()[:64]
    try:
        from importlib import metadata
        return metadata.version(DISTRIBUTION)
    except Exception:  # not installed, or no metadata support
        return UNKNOWN_VERSION
