"""What SDK summary events told about flag use: last request, default value, daily counts."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import case, delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from flagward.domain.flag_statuses import EvaluationTally, FlagUsage
from flagward.domain.json_values import INT64_MAX
from flagward.storage.records import FlagEvaluationCountRecord, FlagUsageRecord


def _insert(session: Session, table: Any) -> Any:
    """An INSERT that supports ``on_conflict_do_update`` (both dialects spell upserts the same way)."""
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    return dialect.insert(table)


def _saturating_sum(stored: Any, added: Any) -> Any:
    """``stored + added`` held at the largest 64-bit integer: PostgreSQL would fail on overflow and
    SQLite would turn the sum into a float. Written so that no intermediate value overflows."""
    return case((stored > INT64_MAX - added, INT64_MAX), else_=stored + added)


class SqlFlagUsage:
    def __init__(self, session: Session) -> None:
        self._session = session

    def add(self, tallies: Sequence[EvaluationTally]) -> None:
        """Merge ``tallies`` into what is stored. Rows are written in key order, so that two processes
        flushing at once on PostgreSQL lock them in the same order (no deadlock)."""
        for tally in sorted(tallies, key=lambda t: (t.environment_id, t.flag_key)):
            self._add_usage(tally)
        counts = sorted(
            (t.environment_id, t.flag_key, day, variation, count)
            for t in tallies
            for (day, variation), count in t.counts.items()
        )
        for env_id, flag_key, day, variation, count in counts:
            insert = _insert(self._session, FlagEvaluationCountRecord).values(
                environment_id=env_id, flag_key=flag_key, day=day, variation=variation, count=count
            )
            self._session.execute(
                insert.on_conflict_do_update(
                    index_elements=["environment_id", "flag_key", "day", "variation"],
                    set_={"count": _saturating_sum(FlagEvaluationCountRecord.count, insert.excluded.count)},
                )
            )

    def _add_usage(self, tally: EvaluationTally) -> None:
        insert = _insert(self._session, FlagUsageRecord).values(
            environment_id=tally.environment_id,
            flag_key=tally.flag_key,
            last_requested=tally.last_requested,
            default={"value": tally.default} if tally.has_default else None,
        )
        newer = insert.excluded.last_requested >= FlagUsageRecord.last_requested
        set_: dict[str, Any] = {
            "last_requested": case((newer, insert.excluded.last_requested), else_=FlagUsageRecord.last_requested)
        }
        if tally.has_default:
            set_["default"] = case((newer, insert.excluded.default), else_=FlagUsageRecord.default)
        self._session.execute(insert.on_conflict_do_update(index_elements=["environment_id", "flag_key"], set_=set_))

    def for_environment(
        self, environment_id: str, *, since_day: int, flag_key: str | None = None
    ) -> dict[str, FlagUsage]:
        """Usage by flag key, with counts from ``since_day`` on."""
        usage = select(FlagUsageRecord).where(FlagUsageRecord.environment_id == environment_id)
        counts = select(
            FlagEvaluationCountRecord.flag_key, FlagEvaluationCountRecord.variation, FlagEvaluationCountRecord.count
        ).where(FlagEvaluationCountRecord.environment_id == environment_id, FlagEvaluationCountRecord.day >= since_day)
        if flag_key is not None:
            usage = usage.where(FlagUsageRecord.flag_key == flag_key)
            counts = counts.where(FlagEvaluationCountRecord.flag_key == flag_key)
        by_flag: dict[str, dict[int, int]] = {}
        for key, variation, count in self._session.execute(counts):
            by_flag.setdefault(key, {})
            by_flag[key][variation] = by_flag[key].get(variation, 0) + count
        return {
            r.flag_key: FlagUsage(
                last_requested=r.last_requested,
                default=r.default["value"] if r.default is not None else None,
                has_default=r.default is not None,
                counts=by_flag.get(r.flag_key, {}),
            )
            for r in self._session.scalars(usage)
        }

    def daily_counts(self, environment_id: str, flag_key: str, *, since_day: int) -> dict[int, dict[int, int]]:
        statement = select(
            FlagEvaluationCountRecord.day, FlagEvaluationCountRecord.variation, FlagEvaluationCountRecord.count
        ).where(
            FlagEvaluationCountRecord.environment_id == environment_id,
            FlagEvaluationCountRecord.flag_key == flag_key,
            FlagEvaluationCountRecord.day >= since_day,
        )
        by_day: dict[int, dict[int, int]] = {}
        for day, variation, count in self._session.execute(statement):
            by_day.setdefault(day, {})[variation] = count
        return by_day

    def prune(self, *, before_day: int) -> None:
        self._session.execute(delete(FlagEvaluationCountRecord).where(FlagEvaluationCountRecord.day < before_day))
