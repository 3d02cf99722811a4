"""Online backups and restores of a whole store (``flagward backup``, ``flagward restore``).

- SQLite: SQLite's online backup API copies the database file page by page from one read transaction,
  so the copy is the store as of one instant, while the server keeps writing (WAL: the writer is never
  blocked). The backup is itself a SQLite store.
- PostgreSQL: every table is read in one ``REPEATABLE READ READ ONLY`` transaction (one snapshot, as
  ``pg_dump`` takes) and written as JSON lines (gzip): a header, then ``{"table", "row"}`` per row.
  ``pg_dump``/``pg_restore`` work as well (README); this format restores into either store.

``restore`` copies a backup of either kind, row for row, into a store that holds nothing yet (no member,
project, token or audit entry), at the same schema revision, in one transaction: the audit chain's
entries and head come along unchanged, so ``flagward audit verify`` passes on the copy.
"""

from __future__ import annotations

import gzip
import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, Integer, create_engine, func, select, text

from flagward.storage.engine import make_engine
from flagward.storage.migrate import current_revision
from flagward.storage.records import Base
from flagward.storage.sqlite_file import sqlite_path

FORMAT = "flagward-backup"
_SQLITE_MAGIC = b"SQLite format 3\x00"
# A store is empty when none of these has a row (the account's first start fills them).
_OCCUPIED_BY = ("members", "projects", "tokens", "audit_log")


class BackupError(Exception):
    """The backup or restore cannot be done (the message says why); nothing was written to a store."""


def backup(url: str, destination: Path) -> str:
    """Back up the store at ``url`` into ``destination`` (must not exist). Returns the format written."""
    if destination.exists():
        raise BackupError(f"{destination} exists; a backup never overwrites a file")
    source = sqlite_path(url)
    if source is not None:
        _sqlite_backup(source, destination)
        return "sqlite"
    engine = make_engine(url, pool_size=1)
    try:
        _json_backup(engine, destination)
    finally:
        engine.dispose()
    return "json"


def _sqlite_backup(source: Path, destination: Path) -> None:
    src = sqlite3.connect(source, timeout=30)
    dst = sqlite3.connect(destination)
    try:
        src.backup(dst)  # all pages in one step: one read transaction, one instant
    finally:
        dst.close()
        src.close()


def _json_backup(engine: Engine, destination: Path) -> None:
    tables = Base.metadata.sorted_tables
    with engine.connect().execution_options(isolation_level="REPEATABLE READ") as connection, connection.begin():
        connection.execute(text("SET TRANSACTION READ ONLY"))
        revision = connection.execute(text("SELECT version_num FROM alembic_version")).scalar_one()
        with gzip.open(destination, "wt", encoding="utf-8") as out:
            out.write(json.dumps({"format": FORMAT, "version": 1, "revision": revision}) + "\n")
            for table in tables:
                for row in connection.execute(select(table)).mappings():
                    out.write(json.dumps({"table": table.name, "row": dict(row)}) + "\n")


def restore(source: Path, url: str) -> dict[str, int]:
    """Copy the backup ``source`` into the empty store at ``url`` (migrated to the backup's revision
    first). Returns the rows copied per table. Raises BackupError."""
    if not source.is_file():
        raise BackupError(f"{source} is not a file")
    with source.open("rb") as head:
        magic = head.read(len(_SQLITE_MAGIC))
    revision, rows = _sqlite_rows(source) if magic == _SQLITE_MAGIC else _json_rows(source)
    target = make_engine(url, pool_size=1)
    try:
        if current_revision(target) != revision:
            raise BackupError(
                f"the backup is at schema revision {revision}, the store at {current_revision(target)}: "
                "restore with the flagward version that made the backup, or into a store at that revision"
            )
        return _copy(rows, target)
    finally:
        target.dispose()


def _sqlite_rows(source: Path) -> tuple[str, Iterator[tuple[str, dict[str, Any]]]]:
    engine = create_engine(f"sqlite:///{source}")
    revision = current_revision(engine)
    if revision is None:
        raise BackupError(f"{source} is not a flagward store")

    def rows() -> Iterator[tuple[str, dict[str, Any]]]:
        try:
            with engine.connect() as connection:
                for table in Base.metadata.sorted_tables:
                    for row in connection.execute(select(table)).mappings():
                        yield table.name, dict(row)
        finally:
            engine.dispose()

    return revision, rows()


def _json_rows(source: Path) -> tuple[str, Iterator[tuple[str, dict[str, Any]]]]:
    try:
        with gzip.open(source, "rt", encoding="utf-8") as lines:
            header = json.loads(lines.readline())
    except (OSError, ValueError) as exc:
        raise BackupError(f"{source} is neither a SQLite store nor a flagward backup ({exc})") from None
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise BackupError(f"{source} is not a flagward backup")

    def rows() -> Iterator[tuple[str, dict[str, Any]]]:
        with gzip.open(source, "rt", encoding="utf-8") as lines:
            next(lines)
            for line in lines:
                item = json.loads(line)
                yield item["table"], item["row"]

    return str(header["revision"]), rows()


def _copy(rows: Iterator[tuple[str, dict[str, Any]]], target: Engine) -> dict[str, int]:
    tables = Base.metadata.tables
    counts: dict[str, int] = {}
    with target.begin() as connection:
        for name in _OCCUPIED_BY:
            if connection.execute(select(func.count()).select_from(tables[name])).scalar_one():
                raise BackupError(f"the store is not empty ({name} has rows): restore only into an empty store")
        for table in reversed(Base.metadata.sorted_tables):
            connection.execute(table.delete())  # what migrations or a first start left (the chain's head row)
        # Backups list tables parents first (``sorted_tables``), so each batch's parents are in.
        current, batch = "", list[dict[str, Any]]()
        for name, row in rows:
            if name != current or len(batch) >= 500:
                if batch:
                    connection.execute(tables[current].insert(), batch)
                current, batch = name, []
            batch.append(row)
            counts[name] = counts.get(name, 0) + 1
        if batch:
            connection.execute(tables[current].insert(), batch)
        if connection.dialect.name == "postgresql":
            _advance_sequences(connection)
    return counts


def _advance_sequences(connection: Any) -> None:
    """PostgreSQL's serial columns continue after the copied rows' largest value."""
    for table in Base.metadata.sorted_tables:
        for column in table.primary_key.columns:
            if isinstance(column.type, Integer) and column.autoincrement is True:
                connection.execute(
                    text(
                        f"SELECT setval(pg_get_serial_sequence('{table.name}', '{column.name}'), "
                        f"COALESCE((SELECT MAX({column.name}) FROM {table.name}), 0) + 1, false)"
                    )
                )


__all__ = ["BackupError", "backup", "restore"]
