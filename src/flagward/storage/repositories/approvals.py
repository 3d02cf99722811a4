"""Approval requests."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, bindparam, case, func, literal, not_, or_, select
from sqlalchemy.orm import Session

from flagward.domain.approvals import ApprovalRequest, ReviewStatus, Status
from flagward.services.ports import ApprovalQuery, ReviewScope
from flagward.storage.mappers import approval_from_record, approval_to_record, tag_pattern
from flagward.storage.records import ApprovalRequestRecord, EnvironmentRecord, ProjectRecord
from flagward.storage.repositories._common import paginate

_BASE = (
    select(ApprovalRequestRecord, ProjectRecord.key, EnvironmentRecord.key)
    .join(ProjectRecord, ProjectRecord.id == ApprovalRequestRecord.project_id)
    .join(EnvironmentRecord, EnvironmentRecord.id == ApprovalRequestRecord.environment_id)
)
# The hot reads' statements, built once (building one per call costs more than executing it).
_BY_ID = _BASE.where(ApprovalRequestRecord.id == bindparam("request_id"))
_BY_ID_FOR_UPDATE = _BY_ID.with_for_update(of=ApprovalRequestRecord)
_OPEN_FOR = _BASE.where(
    ProjectRecord.key == bindparam("project_key"),
    ApprovalRequestRecord.resource_kind == bindparam("kind"),
    ApprovalRequestRecord.resource_key == bindparam("resource_key"),
    ApprovalRequestRecord.status.in_([Status.PENDING.value, Status.SCHEDULED.value]),
)
_OPEN_FOR_IN_ENV = _OPEN_FOR.where(EnvironmentRecord.key == bindparam("env_key")).order_by(
    ApprovalRequestRecord.creation_date
)
_OPEN_FOR_ANY_ENV = _OPEN_FOR.order_by(ApprovalRequestRecord.creation_date)
_IDS = (
    select(ProjectRecord.id, EnvironmentRecord.id)
    .join(EnvironmentRecord, EnvironmentRecord.project_id == ProjectRecord.id)
    .where(ProjectRecord.key == bindparam("project_key"), EnvironmentRecord.key == bindparam("env_key"))
)


class SqlApprovalRepository:
    def __init__(self, session: Session) -> None:
        self._session = session
        # Records read under their row lock, kept for ``update``: the session's identity map holds records
        # weakly, and a record read FOR UPDATE is current until the transaction ends (unlocked reads are not
        # kept: a later locking read must not be handed their attributes).
        self._locked: dict[str, ApprovalRequestRecord] = {}

    def _hydrate(self, rows: Sequence[Any]) -> list[ApprovalRequest]:
        return [approval_from_record(record, project_key, env_key) for record, project_key, env_key in rows]

    def get(self, request_id: str, *, for_update: bool = False) -> ApprovalRequest | None:
        statement = _BY_ID_FOR_UPDATE if for_update else _BY_ID
        rows = self._session.execute(statement, {"request_id": request_id}).all()
        if for_update and rows:
            self._locked[request_id] = rows[0][0]
        found = self._hydrate(rows)
        return found[0] if found else None

    def _ids(self, project_key: str, env_key: str) -> tuple[str, str]:
        row = self._session.execute(_IDS, {"project_key": project_key, "env_key": env_key}).one()
        return row[0], row[1]

    def add(self, request: ApprovalRequest) -> None:
        project_id, env_id = self._ids(request.project_key, request.environment_key)
        self._session.add(approval_to_record(request, project_id, env_id))

    def update(self, request: ApprovalRequest) -> None:
        record = self._locked.get(request.id) or self._session.get(ApprovalRequestRecord, request.id)
        assert record is not None, "update() of a request that was not loaded"
        approval_to_record(request, record.project_id, record.environment_id, record)

    def delete(self, request: ApprovalRequest) -> None:
        record = self._session.get(ApprovalRequestRecord, request.id)
        if record is not None:
            self._session.delete(record)

    def open_for(self, project_key: str, env_key: str | None, kind: str, key: str) -> list[ApprovalRequest]:
        """Pending and scheduled requests on one resource (in one environment, or in all)."""
        params = {"project_key": project_key, "kind": kind, "resource_key": key}
        if env_key is None:
            return self._hydrate(self._session.execute(_OPEN_FOR_ANY_ENV, params).all())
        return self._hydrate(self._session.execute(_OPEN_FOR_IN_ENV, {**params, "env_key": env_key}).all())

    def for_resource(self, project_key: str, env_key: str, kind: str, key: str) -> list[ApprovalRequest]:
        statement = _BASE.where(
            ProjectRecord.key == project_key,
            EnvironmentRecord.key == env_key,
            ApprovalRequestRecord.resource_kind == kind,
            ApprovalRequestRecord.resource_key == key,
        )
        rows = self._session.execute(statement.order_by(ApprovalRequestRecord.creation_date.desc())).all()
        return self._hydrate(rows)

    def delete_for_resource(self, project_key: str, kind: str, key: str) -> None:
        for request in self.open_for(project_key, None, kind, key):
            self.delete(request)

    def find(self, query: ApprovalQuery) -> tuple[list[ApprovalRequest], int]:
        statement = _BASE
        if query.project_key:
            statement = statement.where(ProjectRecord.key == query.project_key)
        if query.environment_key:
            statement = statement.where(EnvironmentRecord.key == query.environment_key)
        if query.resource_kind:
            statement = statement.where(ApprovalRequestRecord.resource_kind == query.resource_kind)
        if query.resource_key:
            statement = statement.where(ApprovalRequestRecord.resource_key == query.resource_key)
        if query.requestor_id:
            statement = statement.where(ApprovalRequestRecord.requestor_id == query.requestor_id)
        if query.statuses:
            statement = statement.where(ApprovalRequestRecord.status.in_(query.statuses))
        if query.notify_member_ids:
            statement = statement.where(
                or_(*(ApprovalRequestRecord.notify.like(tag_pattern(m), escape="\\") for m in query.notify_member_ids))
            )
        statement = _review_filters(statement, query)
        # Both descending, so an index on (status, creation_date, id) yields the order without sorting.
        statement = statement.order_by(ApprovalRequestRecord.creation_date.desc(), ApprovalRequestRecord.id.desc())
        if query.page is None:
            rows = self._session.execute(statement).all()
            return self._hydrate(rows), len(rows)
        # Counting selects no columns: SQLite would otherwise read each matching row's document.
        counted = statement.with_only_columns(func.count(), maintain_column_froms=True).order_by(None)
        total = int(self._session.scalar(counted) or 0)
        return self._hydrate(self._session.execute(paginate(statement, query.page)).all()), total

    def due(self, now: int, limit: int = 20) -> list[str]:
        """Ids of scheduled requests whose time has come. On PostgreSQL rows another process holds are
        skipped, so processes share the work instead of queueing on it."""
        statement = (
            select(ApprovalRequestRecord.id)
            .where(
                ApprovalRequestRecord.status == Status.SCHEDULED.value,
                ApprovalRequestRecord.execution_date <= now,
            )
            .order_by(ApprovalRequestRecord.execution_date)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        return list(self._session.scalars(statement))

    def due_for_check(self, checked_before: int, limit: int = 20) -> list[str]:
        statement = (
            select(ApprovalRequestRecord.id)
            .where(
                ApprovalRequestRecord.status == Status.PENDING.value,
                ApprovalRequestRecord.integration_checked_at <= checked_before,
            )
            .order_by(ApprovalRequestRecord.integration_checked_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        return list(self._session.scalars(statement))


def _in_scope(scope: ReviewScope) -> ColumnElement[bool]:
    return and_(
        ProjectRecord.key == scope.project_key,
        EnvironmentRecord.key == scope.environment_key,
        ApprovalRequestRecord.resource_kind == scope.resource_kind,
    )


def _review_filters(statement: Select[Any], query: ApprovalQuery) -> Select[Any]:
    """``ApprovalQuery``'s review filters in SQL, on the verdict columns the mapper keeps."""
    record = ApprovalRequestRecord
    if query.unreviewed_by:
        statement = statement.where(not_(record.reviewed_by.like(tag_pattern(query.unreviewed_by), escape="\\")))
    if query.reviewable_by:
        own_allowed = [_in_scope(s) for s in query.scopes if s.own_review]
        statement = statement.where(
            or_(record.requestor_id.is_(None), record.requestor_id != query.reviewable_by, *own_allowed)
        )
    if query.review_statuses:
        thresholds = [(_in_scope(s), s.min_approvals) for s in query.scopes if s.min_approvals != 1]
        needed: ColumnElement[Any] = case(*thresholds, else_=1) if thresholds else literal(1)
        by_status = {
            ReviewStatus.PENDING.value: and_(
                record.decline_count == 0, or_(record.approval_count < needed, record.teams_unmet > 0)
            ),
            ReviewStatus.APPROVED.value: and_(
                record.decline_count == 0, record.approval_count >= needed, record.teams_unmet == 0
            ),
            ReviewStatus.DECLINED.value: record.decline_count > 0,
        }
        wanted = [by_status[s] for s in query.review_statuses if s in by_status]
        statement = statement.where(or_(*wanted) if wanted else literal(False))
    return statement
