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

"""A listening UNIX socket that is never reachable with loose permissions.

Used by the guest agent's application socket and the host's admin socket.
:func:`listen` binds under a temporary name, gives the socket its mode and
group, then renames it into place and listens: no client can connect
before the permissions are right, whatever the umask, and without
touching the process-wide umask (other threads may be creating files).

A socket file left by a process that died is replaced; a socket that
another process serves is not (:class:`SocketInUse`), and neither is a
path that is not a socket.
"""

from __future__ import annotations

import dataclasses
import grp
import logging
import os
import socket
import stat
import typing

LOG = logging.getLogger(__name__)

#: Owner and group may connect; nobody else (root always can).
SOCKET_MODE = 0o660
#: Mode of a socket directory this module creates.
DIR_MODE = 0o755
#: Seconds to wait for a live server to accept a probe.
PROBE_TIMEOUT = 0.5


class SocketInUse(OSError):
    """Another process is serving the socket path."""


@dataclasses.dataclass(frozen=True)
class Listening:
    """A bound, listening socket and what it was given.

    :param inode: the socket file's inode, to remove only our own file.
    :param group: the group given the socket; None if only its owner (and
        root) may connect.
    :param group_error: why the group asked for was not given, if it was
        not.
    """

    sock: socket.socket
    path: str
    inode: int
    group: typing.Optional[str]
    group_error: typing.Optional[str] = None


def listen(path: str, group: typing.Optional[str] = None,
           mode: int = SOCKET_MODE, require_group: bool = True,
           backlog: int = 16) -> Listening:
    """Bind and listen on ``path`` with ``mode`` and ``group``.

    :param require_group: raise if ``group`` cannot be given the socket;
        otherwise serve it to its owner only and say why in
        :attr:`Listening.group_error`.
    :raises SocketInUse: another process serves ``path``.
    :raises OSError: ``path`` is not a socket, or cannot be bound.
    """
    _prepare(path)
    temporary = "%s.%d.tmp" % (path, os.getpid())
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        unlink(temporary)
        sock.bind(temporary)
        os.chmod(temporary, mode)
        group_error = _set_group(temporary, group)
        if group_error and require_group:
            raise OSError(group_error)
        os.rename(temporary, path)
        sock.listen(backlog)
    except OSError:
        sock.close()
        unlink(temporary)
        raise
    return Listening(sock, path, os.stat(path).st_ino,
                     None if group_error else group or None, group_error)


def unlink_if_ours(listening: Listening) -> None:
    """Remove the socket file, unless another process has replaced it."""
    try:
        if os.stat(listening.path).st_ino == listening.inode:
            os.unlink(listening.path)
    except OSError:
        pass


def unlink(path: str) -> None:
    """Remove ``path`` if it exists."""
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def _prepare(path: str) -> None:
    """Create the socket's directory; remove a stale socket file."""
    directory = os.path.dirname(path) or "."
    if not os.path.isdir(directory):
        os.makedirs(directory, mode=DIR_MODE, exist_ok=True)
        os.chmod(directory, DIR_MODE)  # whatever the umask
    try:
        file_mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return
    if not stat.S_ISSOCK(file_mode):
        raise OSError("%s exists and is not a socket; not replacing it"
                      % path)
    if _is_served(path):
        raise SocketInUse("another process is serving %s" % path)
    LOG.info("Replacing the stale socket %s", path)
    unlink(path)


def _is_served(path: str) -> bool:
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        probe.settimeout(PROBE_TIMEOUT)
        probe.connect(path)
        return True
    except OSError:
        return False
    finally:
        probe.close()


def _set_group(path: str, group: typing.Optional[str]) -> typing.Optional[str]:
    """Give ``path`` to ``group``; None, or why it could not be done."""
    if not group:
        return None
    try:
        os.chown(path, -1, grp.getgrnam(group).gr_gid)
    except KeyError:
        return "there is no group named %s" % group
    except OSError as err:
        return "cannot give it to group %s: %s" % (group,
                                                   err.strerror or err)
    return None
