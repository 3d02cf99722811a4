"""Helpers shared by the SQL repositories."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from flagward.services.ports import Page


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
