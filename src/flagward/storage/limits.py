"""Values must fit their columns, on both stores alike.

PostgreSQL refuses a string longer than its ``VARCHAR(n)`` column (deep in a transaction: a 500) while
SQLite stores it whatever its length. Checked as every INSERT and UPDATE is executed (an ORM flush and a
repository's Core statement alike), a value too long for its column is a client error (400) naming the
field, the same on both stores, whatever route or instruction set it, and the unit of work rolls back
whatever the transaction wrote before it. The domain checks the limits it knows first
(``domain.ids.MAX_KEY_LENGTH``, names); this is the net under every other path.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Engine, String, Table, event
from sqlalchemy.sql.dml import Insert, Update

from flagward.domain.errors import InvalidRequest

_Bounded = tuple[tuple[str, int], ...]
_BOUNDED: dict[Any, _Bounded] = {}  # by table: its bounded string columns (``string_limits``)


def install(engine: Engine) -> None:
    """Check the values of every INSERT and UPDATE ``engine`` executes against their columns."""
    if not event.contains(engine, "before_execute", _check_statement):
        event.listen(engine, "before_execute", _check_statement)


def _check_statement(
    conn: Any,
    clauseelement: Any,
    multiparams: Sequence[Mapping[str, object]],
    params: Mapping[str, object],
    execution_options: Any,
) -> None:
    if not isinstance(clauseelement, Insert | Update):
        return
    table = clauseelement.table
    bounded = _BOUNDED.get(table)
    if bounded is None:
        bounded = _BOUNDED[table] = string_limits(table) if isinstance(table, Table) else ()
    if not bounded:
        return
    for row in multiparams or (params,):
        check_values(bounded, row)


def string_limits(table: Table) -> _Bounded:
    """The bounded string columns of ``table``."""
    return tuple(
        (column.key, column.type.length)
        for column in table.columns
        if isinstance(column.type, String) and column.type.length is not None
    )


def check_values(bounded: _Bounded, values: Mapping[str, object]) -> None:
    """Raise InvalidRequest if a value of a row about to be written is longer than its column allows."""
    for key, length in bounded:
        value = values.get(key)
        if isinstance(value, str) and len(value) > length:
            raise InvalidRequest(f"{_camel(key)} must be at most {length} characters")


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)
