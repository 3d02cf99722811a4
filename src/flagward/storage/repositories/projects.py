"""Projects and environments."""

from __future__ import annotations

from typing import Any

from sqlalchemy import bindparam, func, literal, or_, select
from sqlalchemy.orm import Session

from flagward.domain.projects import Environment, Project
from flagward.services.ports import Page, ProjectLockTooWeak, ProjectQuery
from flagward.storage.mappers import (
    environment_from_record,
    environment_to_record,
    project_from_record,
    project_to_record,
    tag_pattern,
)
from flagward.storage.records import EnvironmentRecord, ProjectRecord
from flagward.storage.repositories._common import contains_ci, count, paginate

_PROJECT_SORTS: dict[str, Any] = {
    "name": ProjectRecord.name.asc(),
    "-name": ProjectRecord.name.desc(),
    "creationDate": ProjectRecord.creation_date.asc(),
    "-creationDate": ProjectRecord.creation_date.desc(),
}


# The hot reads' statements, built once (building one per call costs more than executing it).
_PROJECT_BY_KEY = select(ProjectRecord).where(ProjectRecord.key == bindparam("project_key"))
# FOR NO KEY UPDATE: writers of the project's contents queue on it, while inserts that only reference the
# row (their foreign key check takes KEY SHARE) are not blocked by it.
_PROJECT_BY_KEY_FOR_UPDATE = _PROJECT_BY_KEY.with_for_update(key_share=True)
# On PostgreSQL a project's writers also take a transaction-level advisory lock on it, shared or
# exclusive (``SqlProjectRepository.lock_shared``): writes of one flag each, which read no other row of the
# project, run side by side, while a write that reads the project's other rows (prerequisites, segments,
# dependents) runs alone. Unlike row locks, the lock manager queues a shared request behind an exclusive
# one already waiting, so a stream of writes of single flags never starves the others. It is taken in
# the select list, before the row lock: every writer locks in that order. Class ``_LOCK_CLASS`` of the
# two-key form keeps these keys apart from ``_common.advisory_lock``'s one-key form.
_LOCK_CLASS = 0x666C6777  # "flgw"
_LOCK_KEY = func.hashtext(ProjectRecord.id)
_PROJECT_BY_KEY_LOCKED = (
    select(ProjectRecord, func.pg_advisory_xact_lock(literal(_LOCK_CLASS), _LOCK_KEY))
    .where(ProjectRecord.key == bindparam("project_key"))
    .with_for_update(key_share=True, of=ProjectRecord)
)
_PROJECT_BY_KEY_SHARED = select(
    ProjectRecord, func.pg_advisory_xact_lock_shared(literal(_LOCK_CLASS), _LOCK_KEY)
).where(ProjectRecord.key == bindparam("project_key"))
_ENVIRONMENT_BY_KEY = (
    select(EnvironmentRecord)
    .join(ProjectRecord, ProjectRecord.id == EnvironmentRecord.project_id)
    .where(ProjectRecord.key == bindparam("project_key"), EnvironmentRecord.key == bindparam("env_key"))
)
_ENVIRONMENT_BY_KEY_FOR_UPDATE = _ENVIRONMENT_BY_KEY.with_for_update(of=EnvironmentRecord)
_ENVIRONMENTS_OF = (
    select(EnvironmentRecord)
    .join(ProjectRecord, ProjectRecord.id == EnvironmentRecord.project_id)
    .where(ProjectRecord.key == bindparam("project_key"))
    .order_by(EnvironmentRecord.creation_date, EnvironmentRecord.key)
)


class SqlProjectRepository:
    def __init__(self, session: Session) -> None:
        self._session = session
        self._shares_locks = session.get_bind().dialect.name == "postgresql"
        self._shared: set[str] = set()  # the projects this transaction holds locked shared
        self._exclusive: set[str] = set()

    def _record(self, key: str, *, for_update: bool = False) -> ProjectRecord | None:
        if not for_update:
            return self._session.scalar(_PROJECT_BY_KEY, {"project_key": key})
        if key in self._shared:
            raise ProjectLockTooWeak(key)
        if not self._shares_locks:
            return self._session.scalar(_PROJECT_BY_KEY_FOR_UPDATE, {"project_key": key})
        row = self._session.execute(_PROJECT_BY_KEY_LOCKED, {"project_key": key}).first()
        self._exclusive.add(key)
        return row[0] if row else None

    def get(self, key: str, *, for_update: bool = False) -> Project | None:
        record = self._record(key, for_update=for_update)
        return project_from_record(record) if record else None

    def lock_shared(self, key: str) -> Project | None:
        if not self._shares_locks or key in self._exclusive or key in self._shared:
            return self.get(key)
        row = self._session.execute(_PROJECT_BY_KEY_SHARED, {"project_key": key}).first()
        self._shared.add(key)
        return project_from_record(row[0]) if row else None

    def held_shared(self, key: str) -> bool:
        return key in self._shared

    def find(self, query: ProjectQuery) -> tuple[list[Project], int]:
        statement = select(ProjectRecord)
        if query.query:
            statement = statement.where(
                or_(contains_ci(ProjectRecord.name, query.query), contains_ci(ProjectRecord.key, query.query))
            )
        for tag in query.tags:
            statement = statement.where(ProjectRecord.tags.like(tag_pattern(tag), escape="\\"))
        total = count(self._session, statement)
        order = _PROJECT_SORTS.get(query.sort, ProjectRecord.name.asc())
        rows = self._session.scalars(paginate(statement.order_by(order, ProjectRecord.key), query.page))
        return [project_from_record(r) for r in rows], total

    def add(self, project: Project) -> None:
        self._session.add(project_to_record(project))
        # Without ORM relationships the flush does not order inserts by foreign key: write the parent
        # row now so the environments added next can reference it.
        self._session.flush()

    def update(self, project: Project) -> None:
        record = self._session.get(ProjectRecord, project.id)
        assert record is not None, "update() of a project that was not loaded"
        project_to_record(project, record)

    def delete(self, project: Project) -> None:
        record = self._session.get(ProjectRecord, project.id)
        if record is not None:
            self._session.delete(record)


class SqlEnvironmentRepository:
    def __init__(self, session: Session) -> None:
        self._session = session

    def _project_key(self, project_id: str) -> str:
        record = self._session.get(ProjectRecord, project_id)
        assert record is not None
        return record.key

    def get(self, project_key: str, key: str, *, for_update: bool = False) -> Environment | None:
        statement = _ENVIRONMENT_BY_KEY_FOR_UPDATE if for_update else _ENVIRONMENT_BY_KEY
        record = self._session.scalar(statement, {"project_key": project_key, "env_key": key})
        return environment_from_record(record, project_key) if record else None

    def get_by_id(self, environment_id: str) -> Environment | None:
        record = self._session.get(EnvironmentRecord, environment_id)
        return environment_from_record(record, self._project_key(record.project_id)) if record else None

    def get_by_credential(self, credential: str) -> Environment | None:
        record = self._session.scalar(
            select(EnvironmentRecord).where(
                or_(EnvironmentRecord.api_key == credential, EnvironmentRecord.mobile_key == credential)
            )
        )
        return environment_from_record(record, self._project_key(record.project_id)) if record else None

    def find(self, project_key: str, page: Page | None = None) -> tuple[list[Environment], int]:
        if page is None:  # all of them: their number is the total, without a count(*) of its own
            records = list(self._session.scalars(_ENVIRONMENTS_OF, {"project_key": project_key}))
            return [environment_from_record(r, project_key) for r in records], len(records)
        statement = (
            select(EnvironmentRecord)
            .join(ProjectRecord, ProjectRecord.id == EnvironmentRecord.project_id)
            .where(ProjectRecord.key == project_key)
        )
        ordered = statement.order_by(EnvironmentRecord.creation_date, EnvironmentRecord.key)
        total = count(self._session, statement)
        rows = self._session.scalars(paginate(ordered, page))
        return [environment_from_record(r, project_key) for r in rows], total

    def add(self, environment: Environment) -> None:
        self._session.add(environment_to_record(environment))
        self._session.flush()  # flag configurations added next reference this row

    def update(self, environment: Environment) -> None:
        record = self._session.get(EnvironmentRecord, environment.id)
        assert record is not None, "update() of an environment that was not loaded"
        environment_to_record(environment, record)

    def delete(self, environment: Environment) -> None:
        record = self._session.get(EnvironmentRecord, environment.id)
        if record is not None:
            self._session.delete(record)
