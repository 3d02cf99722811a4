"""The outbox table: messages are added in the caller's transaction; dispatchers claim due ones with a
lease (row locks skipped by the others on PostgreSQL; SQLite's writers run one at a time) and record
each outcome only while they still hold the lease."""

from __future__ import annotations

import secrets
import typing
from collections.abc import Callable, Collection

from sqlalchemy import Table, and_, exists, func, insert, or_, select, update
from sqlalchemy.orm import Session, aliased

from flagward.domain.outbox import Failure, MessageStatus, NewMessage, OutboxMessage, OutboxStats
from flagward.services.ports import OutboxQuery
from flagward.storage.records import OutboxRecord
from flagward.storage.repositories._common import count

_PENDING = MessageStatus.PENDING.value
_TABLE = typing.cast(Table, OutboxRecord.__table__)
_INSERT = insert(_TABLE)
_MAX_ERROR = 2000


def _message(record: OutboxRecord) -> OutboxMessage:
    return OutboxMessage(
        id=record.id,
        seq=record.seq,
        kind=record.kind,
        payload=dict(record.payload),
        created_at=record.created_at,
        next_attempt_at=record.next_attempt_at,
        target=record.target,
        ordering_key=record.ordering_key,
        status=MessageStatus(record.status),
        attempts=record.attempts,
        last_error=record.last_error,
        last_status_code=record.last_status_code,
        delivered_at=record.delivered_at,
        lease_owner=record.lease_owner,
        lease_until=record.lease_until,
    )


class SqlOutbox:
    def __init__(self, session: Session, on_add: Callable[[], None] = lambda: None) -> None:
        self._session = session
        self._on_add = on_add

    def add(self, message: NewMessage, *, now: int) -> str:
        message_id = secrets.token_hex(16)
        row = {
            "id": message_id,
            "kind": message.kind,
            "payload": message.payload,
            "target": message.target,
            "ordering_key": message.ordering_key,
            "status": _PENDING,
            "attempts": 0,
            "created_at": now,
            "next_attempt_at": now,
        }
        self._session.execute(_INSERT, row)  # a Core statement built once: the row is never read back here
        self._on_add()
        return message_id

    def claim(self, *, now: int, owner: str, lease_ms: int, limit: int, kinds: Collection[str]) -> list[OutboxMessage]:
        # A message is due when its time has come and no lease on it is running. One with an ordering
        # key waits while an earlier message with the same key is still pending (sent in order).
        earlier = aliased(OutboxRecord)
        blocked = exists().where(
            earlier.ordering_key == OutboxRecord.ordering_key,
            earlier.seq < OutboxRecord.seq,
            earlier.status == _PENDING,
        )
        due = (
            select(OutboxRecord)
            .where(
                OutboxRecord.status == _PENDING,
                OutboxRecord.next_attempt_at <= now,
                OutboxRecord.kind.in_(list(kinds)),
                or_(OutboxRecord.lease_until.is_(None), OutboxRecord.lease_until <= now),
                or_(OutboxRecord.ordering_key.is_(None), ~blocked),
            )
            .order_by(OutboxRecord.next_attempt_at, OutboxRecord.seq)
            .limit(limit)
            # PostgreSQL: rows another dispatcher is claiming right now are skipped, not waited for.
            # SQLite: BEGIN IMMEDIATE already makes this transaction the only writer.
            .with_for_update(skip_locked=True, of=OutboxRecord)
        )
        records = list(self._session.scalars(due))
        for record in records:
            record.lease_owner = owner
            record.lease_until = now + lease_ms
            record.attempts += 1
        return [_message(r) for r in records]

    def _owned(self, message_id: str, owner: str) -> object:
        return and_(OutboxRecord.id == message_id, OutboxRecord.lease_owner == owner, OutboxRecord.status == _PENDING)

    def succeeded(self, message_id: str, *, owner: str, now: int, status_code: int | None = None) -> bool:
        result = self._session.execute(
            update(OutboxRecord)
            .where(self._owned(message_id, owner))  # type: ignore[arg-type]
            .values(
                status=MessageStatus.SENT.value,
                delivered_at=now,
                lease_owner=None,
                lease_until=None,
                last_status_code=status_code,
            )
        )
        return bool(getattr(result, "rowcount", 0))

    def failed(self, message_id: str, *, owner: str, failure: Failure, retry_at: int | None) -> bool:
        values: dict[str, object] = {
            "lease_owner": None,
            "lease_until": None,
            "last_error": failure.error[:_MAX_ERROR],
            "last_status_code": failure.status_code,
        }
        if retry_at is None:
            values["status"] = MessageStatus.DEAD.value
        else:
            values["next_attempt_at"] = retry_at
        result = self._session.execute(
            update(OutboxRecord).where(self._owned(message_id, owner)).values(**values)  # type: ignore[arg-type]
        )
        return bool(getattr(result, "rowcount", 0))

    def release_leases(self, owner: str | None = None) -> int:
        """End every running lease (a single-process store, at start: their owner is gone), or only
        ``owner``'s (a process that stops)."""
        query = update(OutboxRecord).where(OutboxRecord.status == _PENDING, OutboxRecord.lease_until.is_not(None))
        if owner is not None:
            query = query.where(OutboxRecord.lease_owner == owner)
        result = self._session.execute(query.values(lease_owner=None, lease_until=None))
        return int(getattr(result, "rowcount", 0) or 0)

    def get(self, message_id: str) -> OutboxMessage | None:
        record = self._session.scalar(select(OutboxRecord).where(OutboxRecord.id == message_id))
        return _message(record) if record else None

    def find(self, query: OutboxQuery) -> tuple[list[OutboxMessage], int]:
        statement = select(OutboxRecord)
        if query.kind is not None:
            statement = statement.where(OutboxRecord.kind == query.kind)
        if query.target is not None:
            statement = statement.where(OutboxRecord.target == query.target)
        if query.statuses:
            statement = statement.where(OutboxRecord.status.in_(query.statuses))
        total = count(self._session, statement)
        page = statement.order_by(OutboxRecord.seq.desc()).limit(query.page.limit).offset(query.page.offset)
        return [_message(r) for r in self._session.scalars(page)], total

    def stats(self, now: int) -> OutboxStats:
        pending = OutboxRecord.status == _PENDING
        is_due = and_(pending, OutboxRecord.next_attempt_at <= now)
        row = self._session.execute(
            select(
                func.count().filter(pending),
                func.count().filter(is_due),
                func.count().filter(and_(pending, OutboxRecord.attempts > 0)),
                func.count().filter(OutboxRecord.status == MessageStatus.DEAD.value),
                func.min(OutboxRecord.next_attempt_at).filter(is_due),
            )
        ).one()
        oldest = row[4]
        return OutboxStats(
            pending=int(row[0]),
            due=int(row[1]),
            retrying=int(row[2]),
            dead=int(row[3]),
            oldest_due_ms=None if oldest is None else max(0, now - int(oldest)),
        )
