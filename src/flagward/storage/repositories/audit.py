"""The append-only, hash-chained audit log, and account-wide metadata."""

from __future__ import annotations

import typing
from collections.abc import Callable, Iterator
from typing import Any

from sqlalchemy import Executable, Select, String, Table, bindparam, cast, insert, select, update
from sqlalchemy.engine import Connection, RowMapping
from sqlalchemy.orm import Session

from flagward.domain.audit import GENESIS_HASH, AuditEntry, spec_matches
from flagward.domain.audit_chain import ChainHead, StoredLink, sealed_fields
from flagward.domain.ids import new_object_id
from flagward.services.ports import AuditQuery
from flagward.storage import accounts_generation
from flagward.storage.mappers import audit_from_record
from flagward.storage.records import AuditHeadRecord, AuditRecord, MetaRecord
from flagward.storage.repositories._common import contains_ci

_SCAN_BATCH = 200
_VERIFY_BATCH = 1000
_AUDIT = typing.cast(Table, AuditRecord.__table__)
_HEAD = typing.cast(Table, AuditHeadRecord.__table__)
_META = typing.cast(Table, MetaRecord.__table__)
_LOCK_HEAD = (
    select(_HEAD.c.seq, _HEAD.c.hash, _HEAD.c.last_id, _HEAD.c.last_date).where(_HEAD.c.id == 1).with_for_update()
)
_INSERT_ENTRY = insert(_AUDIT)
_ACCOUNTS_GENERATION = select(_META.c.value).where(_META.c.key == accounts_generation.KEY)
_ADVANCE_HEAD = (
    update(_HEAD)
    .where(_HEAD.c.id == 1)
    .values(
        seq=bindparam("new_seq"),
        hash=bindparam("new_hash"),
        last_id=bindparam("new_id"),
        last_date=bindparam("new_date"),
    )
)


class SqlAuditLog:
    def __init__(self, session: Session) -> None:
        self._session = session
        # Entries appended in this transaction, with what runs once each is sealed: linked to the chain
        # when the unit of work commits (``seal_pending``).
        self._pending: list[tuple[AuditEntry, Callable[[AuditEntry], None] | None]] = []

    def append(self, entry: AuditEntry, then: Callable[[AuditEntry], None] | None = None) -> None:
        self._pending.append((entry, then))

    def discard_pending(self) -> None:
        self._pending.clear()

    def seal_pending(self) -> list[tuple[Executable, dict[str, Any]]]:
        """Link this transaction's entries to the chain, last thing before the commit, and return the
        writes that store them, for the unit of work to send with its COMMIT (``SqlUnitOfWork.commit``).

        Locking the head row serializes appends across processes, so the chain never forks. The lock is
        held to the commit, so it is taken as late as can be: after the transaction's other writes, in
        the commit itself, and it is the last lock a transaction takes (no lock-order cycles). Under it
        run the head's read, the hashing, what waits for the sealed entries (``then``: webhook
        deliveries, which carry the hash), then the entries' insert, the head's update and the commit,
        sent together: a write's other work does not make every other writer wait."""
        if not self._pending:
            return []
        pending, self._pending = self._pending, []
        seq, prev_hash, prev_id, prev_date = self._lock_head()
        rows = []
        for entry, _ in pending:
            seq += 1
            entry.seq = seq
            rows.append(sealed_fields(entry, prev_hash=prev_hash, prev_id=prev_id, prev_date=prev_date))
            prev_hash, prev_id, prev_date = entry.hash, entry.id, entry.date
        for entry, then in pending:
            if then is not None:
                then(entry)
        # Core statements, built once: an entry is written once and never read back in this transaction,
        # so it needs none of the ORM's bookkeeping. One statement per entry: sent together, a statement
        # costs no round trip, and an executemany would wait for its own. The last entry's id and date
        # go beside the head: the next append chains to them, and ``verify`` names a removed tail by its id.
        writes: list[tuple[Executable, dict[str, Any]]] = [(_INSERT_ENTRY, row) for row in rows]
        advance = {"new_seq": seq, "new_hash": prev_hash, "new_id": prev_id, "new_date": prev_date}
        writes.append((_ADVANCE_HEAD, advance))
        return writes

    def _lock_head(self) -> tuple[int, str, str | None, int | None]:
        """Lock the head row (creating it in an empty store); the last entry's seq, hash, id and date."""
        head = self._session.execute(_LOCK_HEAD).first()
        if head is None:
            self._session.execute(insert(_HEAD).values(id=1, seq=0, hash=GENESIS_HASH))
            return 0, GENESIS_HASH, None, None
        seq, head_hash = int(head.seq), str(head.hash)
        if not seq:
            return seq, head_hash, None, None
        return seq, head_hash, head.last_id, None if head.last_date is None else int(head.last_date)

    def get(self, entry_id: str) -> AuditEntry | None:
        record = self._session.scalar(select(AuditRecord).where(AuditRecord.id == entry_id))
        return audit_from_record(record) if record else None

    def find(self, query: AuditQuery) -> list[AuditEntry]:
        statement = select(AuditRecord)
        if query.before is not None:
            statement = statement.where(AuditRecord.date < query.before)
        if query.after is not None:
            statement = statement.where(AuditRecord.date > query.after)
        if query.q:
            statement = statement.where(contains_ci(cast(AuditRecord.doc, String), query.q))
        if query.member_id:
            # Narrows in SQL; the actor's id is checked exactly below (the id may appear elsewhere too).
            statement = statement.where(contains_ci(cast(AuditRecord.doc, String), query.member_id))
        statement = statement.order_by(AuditRecord.seq.desc())
        if not query.spec and not query.member_id and not query.statements:
            return [audit_from_record(r) for r in self._session.scalars(statement.limit(query.limit))]
        return self._scan(statement, query, query.limit)

    def _scan(self, statement: Select[tuple[AuditRecord]], query: AuditQuery, limit: int) -> list[AuditEntry]:
        """Match ``query.spec`` against the entries' resource columns only, then load the matching entries
        (entries carry whole resource documents, which are not worth decoding to be skipped); the member
        is checked exactly on the loaded entries, and so are ``query.statements``."""
        light = statement.with_only_columns(AuditRecord.seq, AuditRecord.resources)
        found: list[AuditEntry] = []
        offset = 0
        while len(found) < limit:
            batch = list(self._session.execute(light.limit(_SCAN_BATCH).offset(offset)))
            if not batch:
                break
            spec = query.spec
            matching = [seq for seq, resources in batch if not spec or _matches(spec, resources)]
            while matching and len(found) < limit:
                # Load no more entries than are still wanted: each is a whole document to decode.
                wanted, matching = matching[: limit - len(found)], matching[limit - len(found) :]
                records = self._session.scalars(select(AuditRecord).where(AuditRecord.seq.in_(wanted)))
                for record in sorted(records, key=lambda r: r.seq, reverse=True):
                    entry = audit_from_record(record)
                    if (not query.member_id or entry.actor.member_id == query.member_id) and (
                        not query.statements or entry.matches(query.statements)
                    ):
                        found.append(entry)
            offset += _SCAN_BATCH
        return found

    def links(self) -> Iterator[StoredLink]:
        """Every stored entry, in ``seq`` order, exactly as stored: all of the table's columns, read in
        batches. A column added to the table is thus hashed on verify; ``stored_fields`` must hash it on
        append too, or every new entry reads as altered."""
        statement = select(AuditRecord.__table__).order_by(AuditRecord.seq)
        for row in self._session.execute(statement, execution_options={"yield_per": _VERIFY_BATCH}).mappings():
            yield _link(row)

    def last_link(self) -> StoredLink | None:
        statement = select(AuditRecord.__table__).order_by(AuditRecord.seq.desc()).limit(1)
        row = self._session.execute(statement).mappings().first()
        return _link(row) if row is not None else None

    def head(self) -> ChainHead:
        record = self._session.get(AuditHeadRecord, 1)
        if record is None:
            return ChainHead(0, GENESIS_HASH)
        return ChainHead(record.seq, record.hash, record.last_id)


def _matches(spec: str, resources: str) -> bool:
    """Whether ``spec`` matches one of an entry's resources (stored one per line)."""
    return any(spec_matches(spec, r) for r in resources.split("\n") if r)


def _link(row: RowMapping) -> StoredLink:
    fields = dict(row)
    return StoredLink(fields, fields.pop("hash"))


def read_accounts_generation(connection: Connection) -> str | None:
    """``SqlMeta.accounts_generation`` on a connection of its own (``SqlUnitOfWorkFactory.accounts_generation``)."""
    return connection.execute(_ACCOUNTS_GENERATION).scalar()


class SqlMeta:
    def __init__(self, session: Session) -> None:
        self._session = session

    def account_id(self) -> str:
        record = self._session.get(MetaRecord, "account_id")
        if record is None:
            record = MetaRecord(key="account_id", value=new_object_id())
            self._session.add(record)
        return record.value

    def accounts_generation(self) -> str | None:
        """The value the last transaction that changed accounts left (``storage.accounts_generation``)."""
        return self._session.execute(_ACCOUNTS_GENERATION).scalar()

    def new_accounts_generation(self) -> None:
        statement = update(_META).where(_META.c.key == accounts_generation.KEY).values(value=new_object_id())
        self._session.execute(statement)
