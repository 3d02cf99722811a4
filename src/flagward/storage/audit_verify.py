"""Verify the audit hash chain straight from the store, and read its head for anchoring elsewhere."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from flagward.domain.audit_chain import Anchor, ChainBreak, ChainHead, StoredLink, head_breaks, verify_chain
from flagward.storage.engine import is_sqlite
from flagward.storage.migrate import current_revision, head_revision
from flagward.storage.repositories import SqlAuditLog


class SchemaNotCurrent(RuntimeError):
    """The database is not at the code's schema revision; verifying never migrates it."""


def verify(engine: Engine, anchors: Sequence[Anchor] = ()) -> tuple[int, list[ChainBreak]]:
    """The number of entries checked, and every problem found in the log, its head and ``anchors``."""
    with _snapshot(engine) as log:
        head = log.head()
        counted = _Counted(log.links())
        breaks = verify_chain(counted, head=head, anchors=anchors)
    return counted.count, breaks


def current_head(engine: Engine) -> tuple[ChainHead, list[ChainBreak]]:
    """The chain's head as recorded on append, and what is wrong with the log's end (its last entry
    does not match its own hash or that head). Reads two rows, whatever the log's length."""
    with _snapshot(engine) as log:
        head = log.head()
        return head, head_breaks(log.last_link(), head)


@contextmanager
def _snapshot(engine: Engine) -> Iterator[SqlAuditLog]:
    """A read-only transaction that sees one snapshot of the log and its head, so that entries
    appended meanwhile cannot look like tampering: a SQLite read transaction is one already, and
    PostgreSQL's READ COMMITTED would take a new snapshot per statement. Raises ``SchemaNotCurrent``."""
    revision, expected = current_revision(engine), head_revision()
    if revision != expected:
        raise SchemaNotCurrent(
            f"the database schema is at revision {revision or '(none)'}, not {expected}: "
            "run `flagward db upgrade` (the server does it on start) first"
        )
    options = {} if is_sqlite(engine) else {"isolation_level": "REPEATABLE READ", "postgresql_readonly": True}
    with engine.connect().execution_options(**options) as connection, Session(bind=connection) as session:
        try:
            yield SqlAuditLog(session)
        finally:
            session.rollback()


class _Counted:
    """Iterates over ``links`` once, counting them."""

    def __init__(self, links: Iterable[StoredLink]) -> None:
        self._links = links
        self.count = 0

    def __iter__(self) -> Iterator[StoredLink]:
        for link in self._links:
            self.count += 1
            yield link
