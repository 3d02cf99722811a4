"""Helpers shared by the SQL repositories."""

from __future__ import annotations

import hashlib
from typing import Any

from sqlalchemy import Select, func, select, text
from sqlalchemy.orm import Session

from flagward.services.ports import Page


def execute_flushed(session: Session, statement: Any, params: dict[str, Any] | None = None) -> Any:
    """Execute a Core statement after writing the session's pending rows: unlike an ORM statement, a Core
    one does not flush, and rows other repositories added through the session in this transaction (a
    project or environment an import creates, say) must be seen, or referenced, by it."""
    session.flush()
    return session.execute(statement, params or {})


def count(session: Session, statement: Select[Any]) -> int:
    return int(session.scalar(select(func.count()).select_from(statement.order_by(None).subquery())) or 0)


def paginate(statement: Select[Any], page: Page | None) -> Select[Any]:
    if page is None:
        return statement
    return statement.limit(page.limit).offset(page.offset)


def contains_ci(column: Any, needle: str) -> Any:
    """Case-insensitive substring match that behaves the same on SQLite and PostgreSQL."""
    escaped = needle.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return func.lower(column).like(f"%{escaped}%", escape="\\")


def advisory_lock(session: Session, name: str) -> None:
    """Hold the lock called ``name`` until the transaction ends: for an invariant over a set of rows
    that may be empty, which no row lock can cover. PostgreSQL takes a transaction-level advisory lock
    (its 64-bit key derived from ``name``); SQLite needs none, as its write transactions begin
    IMMEDIATE and so already run one at a time."""
    if session.get_bind().dialect.name != "postgresql":
        return
    key = int.from_bytes(hashlib.blake2b(name.encode(), digest_size=8).digest(), "big", signed=True)
    session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})
