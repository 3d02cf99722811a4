"""Which transactions change accounts, and the generation they leave behind.

A statement that inserts, updates or deletes rows of a table below (ORM flushes and Core statements
alike: both pass through the engine's ``before_execute``) marks its connection's transaction; the unit
of work then writes a new ``meta.accounts_generation`` before it commits (``SqlUnitOfWork.commit``), in
the same transaction. Readers that cache what they derived from these tables (``services.actor_cache``)
compare the generation they read first with the one their entry was made under.

A table that starts to feed an actor's identity, role, teams or policies must be listed here, or a
change to it is served stale; ``tests/integration/test_accounts_generation.py`` reads the actor-building
code's repositories against this list.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.sql.dml import UpdateBase

KEY = "accounts_generation"

ACCOUNT_TABLES = frozenset(
    {
        "members",
        "teams",
        "team_members",
        "team_maintainers",
        "team_custom_roles",
        "member_custom_roles",
        "custom_roles",
        "tokens",
    }
)

_CHANGED = "flagward_accounts_changed"


def install(engine: Engine) -> None:
    """Mark, per transaction, whether it wrote one of ``ACCOUNT_TABLES``."""
    if event.contains(engine, "before_execute", _before_execute):
        return

    event.listen(engine, "begin", _begin)
    event.listen(engine, "before_execute", _before_execute)


def _begin(connection: Connection) -> None:
    connection.info.pop(_CHANGED, None)


def _before_execute(connection: Connection, clause: Any, *_: Any) -> None:
    if isinstance(clause, UpdateBase) and getattr(clause.table, "name", None) in ACCOUNT_TABLES:
        connection.info[_CHANGED] = True


def changed(connection: Connection) -> bool:
    """Whether this transaction wrote accounts (and forget it: asked once, before commit)."""
    return bool(connection.info.pop(_CHANGED, False))
