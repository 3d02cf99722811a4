"""Segments, per environment, and the tombstones that keep SDK versions increasing across deletes."""

from __future__ import annotations

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from flagward.domain.segments import Segment
from flagward.services.ports import Page
from flagward.storage.mappers import segment_from_record, segment_to_record
from flagward.storage.records import EnvironmentRecord, ProjectRecord, SegmentRecord, TombstoneRecord
from flagward.storage.repositories._common import contains_ci, count, paginate


class SqlSegmentRepository:
    def __init__(self, session: Session) -> None:
        self._session = session

    def _environment(self, project_key: str, env_key: str) -> EnvironmentRecord:
        record = self._session.scalar(
            select(EnvironmentRecord)
            .join(ProjectRecord, ProjectRecord.id == EnvironmentRecord.project_id)
            .where(ProjectRecord.key == project_key, EnvironmentRecord.key == env_key)
        )
        assert record is not None, "the environment must be loaded before its segments"
        return record

    def _select(self, project_key: str, env_key: str):  # type: ignore[no-untyped-def]
        return (
            select(SegmentRecord)
            .join(EnvironmentRecord, EnvironmentRecord.id == SegmentRecord.environment_id)
            .join(ProjectRecord, ProjectRecord.id == EnvironmentRecord.project_id)
            .where(ProjectRecord.key == project_key, EnvironmentRecord.key == env_key)
        )

    def get(self, project_key: str, env_key: str, key: str, *, for_update: bool = False) -> Segment | None:
        statement = self._select(project_key, env_key).where(SegmentRecord.key == key)
        if for_update:
            statement = statement.with_for_update(of=SegmentRecord)
        record = self._session.scalar(statement)
        return segment_from_record(record, project_key, env_key) if record else None

    def find(self, project_key: str, env_key: str, query: str | None, page: Page | None) -> tuple[list[Segment], int]:
        statement = self._select(project_key, env_key)
        if query:
            statement = statement.where(
                or_(contains_ci(SegmentRecord.name, query), contains_ci(SegmentRecord.key, query))
            )
        total = count(self._session, statement)
        records = self._session.scalars(paginate(statement.order_by(SegmentRecord.key), page))
        return [segment_from_record(r, project_key, env_key) for r in records], total

    def keys(self, project_key: str, env_key: str) -> set[str]:
        return {s.key for s in self.find(project_key, env_key, None, None)[0]}

    def add(self, segment: Segment) -> None:
        env = self._environment(segment.project_key, segment.environment_key)
        self._session.add(segment_to_record(segment, env.id))

    def update(self, segment: Segment) -> None:
        record = self._session.get(SegmentRecord, segment.id)
        assert record is not None, "update() of a segment that was not loaded"
        segment_to_record(segment, record.environment_id, record)

    def delete(self, segment: Segment) -> None:
        record = self._session.get(SegmentRecord, segment.id)
        if record is not None:
            self._session.delete(record)


class SqlTombstones:
    def __init__(self, session: Session) -> None:
        self._session = session

    def version(self, environment_id: str, kind: str, key: str) -> int:
        record = self._session.get(TombstoneRecord, (environment_id, kind, key))
        return record.version if record else 0

    def record(self, environment_id: str, kind: str, key: str, version: int) -> None:
        record = self._session.get(TombstoneRecord, (environment_id, kind, key))
        if record is None:
            self._session.add(TombstoneRecord(environment_id=environment_id, kind=kind, key=key, version=version))
        else:
            record.version = max(record.version, version)

    def for_environment(self, environment_id: str) -> dict[tuple[str, str], int]:
        rows = self._session.scalars(select(TombstoneRecord).where(TombstoneRecord.environment_id == environment_id))
        return {(r.kind, r.key): r.version for r in rows}
