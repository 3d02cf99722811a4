"""The SQLite store as a file on this host: commands that must find an existing one, and the one
server process allowed to serve it.

A SQLite store is served by one ``flagward serve`` process: SDK streams and ``/sdk/latest-all`` are fed
by that process's in-memory fan-out, so a second process on the same file would never tell the first
one's SDKs about its changes. ``serve_lock`` makes that a refusal instead of stale flags; several
server processes need PostgreSQL, whose LISTEN/NOTIFY carries changes between them.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from flagward.storage.engine import normalize_url


class StoreFileError(Exception):
    """The store cannot be opened for this command; the message says why and what to do."""


class StoreNotFound(StoreFileError):
    def __init__(self, url: str, path: Path) -> None:
        super().__init__(
            f"no flagward database at {path} (database URL {url}, from {Path.cwd()}). "
            "Run this command in the directory where `flagward serve` runs, or give it the server's "
            "database with --database-url or FLAGWARD_DATABASE_URL, e.g. sqlite:////absolute/path/flagward.db "
            "or postgresql://user@host:port/db. (`flagward serve` and `flagward db upgrade` create a new store.)"
        )
        self.path = path


class StoreInUse(StoreFileError):
    def __init__(self, path: Path, holder: str) -> None:
        super().__init__(
            f"another flagward serve process{holder} already serves the SQLite database {path}. "
            "A SQLite store is served by one process: a second one's SDK streams and /sdk/latest-all "
            "would never see changes made through the first. To run several server processes, use "
            "PostgreSQL (--database-url postgresql://user@host:port/db)."
        )
        self.path = path


def sqlite_path(url: str) -> Path | None:
    """The absolute path of the SQLite file ``url`` names; None for PostgreSQL or an in-memory database."""
    parsed = normalize_url(url)
    if parsed.get_backend_name() != "sqlite":
        return None
    database = parsed.database or ""
    if database in ("", ":memory:") or database.startswith("file:") or parsed.query.get("mode") == "memory":
        return None
    return Path(database).expanduser().resolve()


def require_existing(url: str) -> None:
    """Raise StoreNotFound when ``url`` names a SQLite file that does not exist: opening it would create
    an empty store (typically in the wrong directory) instead of using the server's."""
    path = sqlite_path(url)
    if path is not None and not path.exists():
        raise StoreNotFound(url, path)


def lock_path(database: Path) -> Path:
    return database.with_name(database.name + ".serve.lock")


@contextmanager
def serve_lock(url: str) -> Iterator[None]:
    """Hold, for as long as the block runs, the exclusive OS lock that marks this process as the server
    of ``url``'s SQLite file; raise StoreInUse at once when another process holds it. PostgreSQL and
    in-memory databases need none. The lock is released by the OS when the process ends, however it ends;
    the lock file itself stays (removing it would let two processes lock two different files)."""
    path = sqlite_path(url)
    if path is None:
        yield
        return
    if not path.parent.is_dir():
        raise StoreFileError(f"cannot create the SQLite database {path}: {path.parent} is not a directory")
    fd = os.open(lock_path(path), os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise StoreInUse(path, _holder(fd)) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        yield
    finally:
        os.close(fd)  # releases the lock


def _holder(fd: int) -> str:
    pid = os.pread(fd, 32, 0).decode(errors="replace").strip()
    return f" (pid {pid})" if pid.isdigit() else ""


class WorkersNeedPostgres(StoreFileError):
    def __init__(self, url: str, workers: int) -> None:
        super().__init__(
            f"--workers {workers} needs PostgreSQL, and the database URL {url} is SQLite. A SQLite store is "
            "served by one process: its SDK streams and /sdk/latest-all are fed by that process's in-memory "
            "fan-out, so the other processes' SDKs would never see its changes. Use --workers 1 (the default) "
            "or a PostgreSQL store (--database-url postgresql://user@host:port/db)."
        )


def require_multi_process_store(url: str, workers: int) -> None:
    """Raise WorkersNeedPostgres when ``workers`` server processes would share a SQLite store (file or
    in-memory: neither carries changes between processes)."""
    if workers > 1 and normalize_url(url).get_backend_name() == "sqlite":
        raise WorkersNeedPostgres(url, workers)  # a SQLite URL has no password to hide
