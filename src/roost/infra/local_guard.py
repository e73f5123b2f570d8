"""Guards for running Roost on one machine: one owner per data directory, free ports first.

``roost up`` holds an exclusive lock on its data directory for its whole life, because two
supervisors on one directory would start two embedded Redis servers on one append-only file
(writes to one invisible to the other, and the file can be corrupted). ``roost backup`` and
``roost restore`` on embedded data take the same lock. Before starting anything, ``roost up``
checks every port it will bind and names what holds a busy one, instead of letting each role
exit with "address in use" and be restarted for ever.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import socket
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import IO

LOCK_FILE = "roost.lock"
# Backups and restores of embedded data run while `roost up` (which holds LOCK_FILE) serves it;
# they exclude each other on a lock of their own.
BACKUP_LOCK_FILE = "backup.lock"
_TCP_LISTEN = "0A"


class DataDirInUse(Exception):
    """Another process holds the data directory's lock."""

    def __init__(self, data_dir: Path, holder: str) -> None:
        self.data_dir = data_dir
        self.holder = holder
        super().__init__(
            f"{data_dir} is in use by another roost (pid {holder}); stop it first, "
            "or pass --data-dir for a separate platform"
        )


class DataDirLock:
    """An exclusive, non-blocking ``flock`` on ``<data_dir>/roost.lock``, released on exit.

    The kernel drops the lock when the holder dies, so a crashed ``roost up`` never leaves a
    stale lock behind; the pid written into the file only names the holder in the message.
    """

    def __init__(self, data_dir: Path, lock_file: str = LOCK_FILE) -> None:
        self.data_dir = data_dir
        self.lock_file = lock_file
        self._file: IO[str] | None = None

    def __enter__(self) -> DataDirLock:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        handle = (self.data_dir / self.lock_file).open("a+")
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as error:
            handle.seek(0)
            holder = handle.read().strip() or "unknown"
            handle.close()
            if error.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise DataDirInUse(self.data_dir, holder) from None
            raise
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        self._file = handle
        return self

    def __exit__(self, *_: object) -> None:
        if self._file is not None:
            with contextlib.suppress(OSError):
                self._file.truncate(0)
            self._file.close()  # closing the last descriptor releases the flock
            self._file = None


@dataclass(frozen=True)
class BusyPort:
    port: int
    owner: str | None  # "pid 1234 (python3)" where /proc shows it, else None

    def describe(self) -> str:
        return f"port {self.port} is in use" + (f" by {self.owner}" if self.owner else "")


def busy_ports(host: str, ports: Iterable[int]) -> list[BusyPort]:
    """The ports of ``ports`` that cannot be bound on ``host`` right now, with their owners."""
    busy = [port for port in ports if not _can_bind(host, port)]
    if not busy:
        return []
    owners = _listening_owners()
    return [BusyPort(port, owners.get(port)) for port in busy]


def _can_bind(host: str, port: int) -> bool:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        # The servers set SO_REUSEADDR too: a port in TIME_WAIT is free for them.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def listening_inodes(proc_net_tcp: str) -> dict[int, str]:
    """Port -> socket inode of each LISTEN entry in a ``/proc/net/tcp{,6}`` table."""
    found: dict[int, str] = {}
    for line in proc_net_tcp.splitlines()[1:]:
        fields = line.split()
        if len(fields) < 10 or fields[3] != _TCP_LISTEN:
            continue
        port = int(fields[1].rsplit(":", 1)[1], 16)
        found.setdefault(port, fields[9])
    return found


def _listening_owners() -> dict[int, str]:
    inodes: dict[str, int] = {}
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError):
            for port, inode in listening_inodes(Path(table).read_text()).items():
                inodes[inode] = port
    owners: dict[int, str] = {}
    for pid_dir in Path("/proc").iterdir():
        if not pid_dir.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            for fd in (pid_dir / "fd").iterdir():
                target = os.readlink(fd)
                if target.startswith("socket:[") and target[8:-1] in inodes:
                    name = (pid_dir / "comm").read_text().strip()
                    owners.setdefault(inodes[target[8:-1]], f"pid {pid_dir.name} ({name})")
    return owners
