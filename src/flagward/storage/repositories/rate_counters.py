"""Rate-limit counters: one row per counter, changed by atomic upserts so that concurrent requests in
any number of processes never count the same event twice or lose one."""

from __future__ import annotations

from typing import Any

from sqlalchemy import case, delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from flagward.storage.records import RateCounterRecord


class SqlRateCounters:
    def __init__(self, session: Session) -> None:
        self._session = session

    def _insert(self) -> Any:
        dialect = postgresql if self._session.get_bind().dialect.name == "postgresql" else sqlite
        return dialect.insert(RateCounterRecord)

    def spend(self, key: str, now: int, window_ms: int) -> tuple[int, int]:
        # One statement: PostgreSQL locks the row (or the key being inserted) until the transaction
        # ends, and a concurrent upsert waits and then sees this one's result; SQLite writers are
        # serialized by BEGIN IMMEDIATE. Either way no two events read the same count.
        insert = self._insert().values(key=key, count=1, resets_at=now + window_ms)
        ended = RateCounterRecord.resets_at <= now
        upsert = insert.on_conflict_do_update(
            index_elements=["key"],
            set_={
                "count": case((ended, 1), else_=RateCounterRecord.count + 1),
                "resets_at": case((ended, insert.excluded.resets_at), else_=RateCounterRecord.resets_at),
            },
        ).returning(RateCounterRecord.count, RateCounterRecord.resets_at)
        count, resets_at = self._session.execute(upsert).one()
        return int(count), int(resets_at)

    def refund(self, key: str) -> None:
        self._session.execute(
            update(RateCounterRecord)
            .where(RateCounterRecord.key == key, RateCounterRecord.count > 0)
            .values(count=RateCounterRecord.count - 1)
        )

    def clear(self, key: str) -> None:
        self._session.execute(delete(RateCounterRecord).where(RateCounterRecord.key == key))

    def prune(self, now: int, limit: int = 1000) -> int:
        # SKIP LOCKED (PostgreSQL; SQLite has one writer at a time) leaves alone the counters a request
        # is changing right now, so pruning never waits for a request nor deadlocks with one.
        expired = (
            select(RateCounterRecord.key)
            .where(RateCounterRecord.resets_at <= now)
            .order_by(RateCounterRecord.key)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        result = self._session.execute(delete(RateCounterRecord).where(RateCounterRecord.key.in_(expired)))
        return int(getattr(result, "rowcount", 0) or 0)
