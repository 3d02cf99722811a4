"""The append-only, hash-chained audit log, and account-wide metadata."""

from __future__ import annotations

from collections.abc import Iterator

from sqlalchemy import Select, String, cast, select
from sqlalchemy.engine import RowMapping
from sqlalchemy.orm import Session

from flagward.domain.audit import GENESIS_HASH, AuditEntry, spec_matches
from flagward.domain.audit_chain import ChainHead, StoredLink, seal
from flagward.domain.ids import new_object_id
from flagward.services.ports import AuditQuery
from flagward.storage.mappers import audit_from_record, audit_to_record
from flagward.storage.records import AuditHeadRecord, AuditRecord, MetaRecord
from flagward.storage.repositories._common import contains_ci

_SCAN_BATCH = 200
_VERIFY_BATCH = 1000
_HEAD_ID = "audit_head_id"


class SqlAuditLog:
    def __init__(self, session: Session) -> None:
        self._session = session

    def append(self, entry: AuditEntry) -> AuditEntry:
        # Locking the head row serializes appends across processes, so the chain never forks; the lock
        # is held to commit, and it is always the last lock a transaction takes (no lock-order cycles).
        head = self._session.scalar(select(AuditHeadRecord).where(AuditHeadRecord.id == 1).with_for_update())
        if head is None:
            head = AuditHeadRecord(id=1, seq=0, hash=GENESIS_HASH)
            self._session.add(head)
        previous = self._session.get(AuditRecord, head.seq) if head.seq else None
        entry.seq = head.seq + 1
        seal(
            entry,
            prev_hash=head.hash,
            prev_id=previous.id if previous else None,
            prev_date=previous.date if previous else None,
        )
        self._session.add(audit_to_record(entry))
        head.seq, head.hash = entry.seq, entry.hash
        self._set_head_id(entry.id)
        return entry

    def _set_head_id(self, entry_id: str) -> None:
        """The last entry's id, kept beside the head so that ``verify`` can name a removed tail."""
        record = self._session.get(MetaRecord, _HEAD_ID)
        if record is None:
            self._session.add(MetaRecord(key=_HEAD_ID, value=entry_id))
        else:
            record.value = entry_id

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
        head_id = self._session.get(MetaRecord, _HEAD_ID)
        if record is None:
            return ChainHead(0, GENESIS_HASH)
        return ChainHead(record.seq, record.hash, head_id.value if head_id else None)


def _matches(spec: str, resources: str) -> bool:
    """Whether ``spec`` matches one of an entry's resources (stored one per line)."""
    return any(spec_matches(spec, r) for r in resources.split("\n") if r)


def _link(row: RowMapping) -> StoredLink:
    fields = dict(row)
    return StoredLink(fields, fields.pop("hash"))


class SqlMeta:
    def __init__(self, session: Session) -> None:
        self._session = session

    def account_id(self) -> str:
        record = self._session.get(MetaRecord, "account_id")
        if record is None:
            record = MetaRecord(key="account_id", value=new_object_id())
            self._session.add(record)
        return record.value
