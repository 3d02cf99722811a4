"""Values must fit their columns, on both stores alike.

PostgreSQL refuses a string longer than its ``VARCHAR(n)`` column (deep in a transaction: a 500) while
SQLite stores it whatever its length. Checked before every flush, a value too long for its column is a
client error (400) naming the field, the same on both stores, whatever route or instruction set it.
The domain checks the limits it knows first (``domain.ids.MAX_KEY_LENGTH``, names); this is the net
under every other path.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import String, Table, event, inspect
from sqlalchemy.orm import Session

from flagward.domain.errors import InvalidRequest


def install(sessions: Any) -> None:
    """Check every new or changed record before each flush of a session made by ``sessions``."""
    event.listen(sessions, "before_flush", _check_session)


def _check_session(session: Session, _context: object, _instances: object) -> None:
    for record in [*session.new, *session.dirty]:
        check_record(record)


def check_record(record: object) -> None:
    """Raise InvalidRequest if a string attribute of ``record`` is longer than its column allows."""
    mapper = inspect(type(record), raiseerr=False)
    for column in mapper.columns if mapper is not None else ():
        length = column.type.length if isinstance(column.type, String) else None
        value = getattr(record, column.key, None)
        if length is not None and isinstance(value, str) and len(value) > length:
            raise InvalidRequest(f"{_camel(column.key)} must be at most {length} characters")


def string_limits(table: Table) -> tuple[tuple[str, int], ...]:
    """The bounded string columns of ``table``, for ``check_values``: what repositories that write with
    Core statements (no flush, so no ``before_flush``) check their rows against."""
    return tuple(
        (column.key, column.type.length)
        for column in table.columns
        if isinstance(column.type, String) and column.type.length is not None
    )


def check_values(bounded: tuple[tuple[str, int], ...], values: Mapping[str, object]) -> None:
    """``check_record`` for a row about to be written by a Core statement."""
    for key, length in bounded:
        value = values.get(key)
        if isinstance(value, str) and len(value) > length:
            raise InvalidRequest(f"{_camel(key)} must be at most {length} characters")


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)
