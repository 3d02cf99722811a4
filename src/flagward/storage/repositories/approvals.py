"""Approval requests, read and written with Core statements built once: the repository hands out
domain objects, so the ORM's identity map and flush would be bookkeeping for nothing (BENCHMARKS
section 16)."""

from __future__ import annotations

import typing
from collections.abc import Sequence
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Select,
    Table,
    and_,
    bindparam,
    case,
    delete,
    func,
    insert,
    literal,
    not_,
    or_,
    select,
    update,
)
from sqlalchemy.orm import Session

from flagward.domain.approvals import ApprovalRequest, ReviewStatus, Status
from flagward.domain.projects import Environment
from flagward.services.ports import ApprovalQuery, ReviewScope
from flagward.storage.mappers import approval_columns, approval_from_row, tag_pattern
from flagward.storage.records import ApprovalRequestRecord, EnvironmentRecord, ProjectRecord
from flagward.storage.repositories._common import execute_flushed, paginate

_REQUESTS = typing.cast(Table, ApprovalRequestRecord.__table__)
_PROJECTS = typing.cast(Table, ProjectRecord.__table__)
_ENVIRONMENTS = typing.cast(Table, EnvironmentRecord.__table__)
_R, _P, _E = _REQUESTS.c, _PROJECTS.c, _ENVIRONMENTS.c

_BASE = select(_REQUESTS, _P.key.label("project_key"), _E.key.label("environment_key")).select_from(
    _REQUESTS.join(_PROJECTS, _P.id == _R.project_id).join(_ENVIRONMENTS, _E.id == _R.environment_id)
)
# The hot statements, built once (building one per call costs more than executing it).
_BY_ID = _BASE.where(_R.id == bindparam("request_id"))
_BY_ID_FOR_UPDATE = _BY_ID.with_for_update(of=_REQUESTS)
_OPEN_FOR = _BASE.where(
    _P.key == bindparam("project_key"),
    _R.resource_kind == bindparam("kind"),
    _R.resource_key == bindparam("resource_key"),
    _R.status.in_([Status.PENDING.value, Status.SCHEDULED.value]),
)
_OPEN_FOR_IN_ENV = _OPEN_FOR.where(_E.key == bindparam("env_key")).order_by(_R.creation_date)
_OPEN_FOR_ANY_ENV = _OPEN_FOR.order_by(_R.creation_date)
_IDS = (
    select(_P.id, _E.id)
    .select_from(_PROJECTS.join(_ENVIRONMENTS, _E.project_id == _P.id))
    .where(_P.key == bindparam("project_key"), _E.key == bindparam("env_key"))
)
_INSERT = insert(_REQUESTS)
# The SET clause is the parameters' columns (``approval_columns``); the id is bound under another name.
_UPDATE = update(_REQUESTS).where(_R.id == bindparam("request_id"))
_DELETE = delete(_REQUESTS).where(_R.id == bindparam("request_id"))


class SqlApprovalRepository:
    def __init__(self, session: Session) -> None:
        self._session = session

    def _hydrate(self, rows: Sequence[Any]) -> list[ApprovalRequest]:
        return [approval_from_row(row, row.project_key, row.environment_key) for row in rows]

    def get(self, request_id: str, *, for_update: bool = False) -> ApprovalRequest | None:
        statement = _BY_ID_FOR_UPDATE if for_update else _BY_ID
        found = self._hydrate(execute_flushed(self._session, statement, {"request_id": request_id}).all())
        return found[0] if found else None

    def add(self, request: ApprovalRequest, *, environment: Environment | None = None) -> None:
        if environment is not None and (environment.project_key, environment.key) == (
            request.project_key,
            request.environment_key,
        ):
            ids = (environment.project_id, environment.id)  # read in this transaction: not read again
        else:
            keys = {"project_key": request.project_key, "env_key": request.environment_key}
            ids = execute_flushed(self._session, _IDS, keys).one()
        row = {
            "id": request.id,
            "project_id": ids[0],
            "environment_id": ids[1],
            "creation_date": request.creation_date,
            **approval_columns(request),
        }
        self._session.execute(_INSERT, row)

    def update(self, request: ApprovalRequest) -> None:
        columns = approval_columns(request)
        self._session.execute(_UPDATE, {"request_id": request.id, **columns})

    def delete(self, request: ApprovalRequest) -> None:
        self._session.execute(_DELETE, {"request_id": request.id})

    def open_for(self, project_key: str, env_key: str | None, kind: str, key: str) -> list[ApprovalRequest]:
        """Pending and scheduled requests on one resource (in one environment, or in all)."""
        params = {"project_key": project_key, "kind": kind, "resource_key": key}
        if env_key is None:
            return self._hydrate(execute_flushed(self._session, _OPEN_FOR_ANY_ENV, params).all())
        return self._hydrate(execute_flushed(self._session, _OPEN_FOR_IN_ENV, {**params, "env_key": env_key}).all())

    def for_resource(self, project_key: str, env_key: str, kind: str, key: str) -> list[ApprovalRequest]:
        statement = _BASE.where(
            _P.key == project_key,
            _E.key == env_key,
            _R.resource_kind == kind,
            _R.resource_key == key,
        )
        rows = execute_flushed(self._session, statement.order_by(_R.creation_date.desc())).all()
        return self._hydrate(rows)

    def delete_for_resource(self, project_key: str, kind: str, key: str) -> None:
        for request in self.open_for(project_key, None, kind, key):
            self.delete(request)

    def find(self, query: ApprovalQuery) -> tuple[list[ApprovalRequest], int]:
        statement = _BASE
        if query.project_key:
            statement = statement.where(_P.key == query.project_key)
        if query.environment_key:
            statement = statement.where(_E.key == query.environment_key)
        if query.resource_kind:
            statement = statement.where(_R.resource_kind == query.resource_kind)
        if query.resource_key:
            statement = statement.where(_R.resource_key == query.resource_key)
        if query.requestor_id:
            statement = statement.where(_R.requestor_id == query.requestor_id)
        if query.statuses:
            statement = statement.where(_R.status.in_(query.statuses))
        if query.notify_member_ids:
            statement = statement.where(
                or_(*(_R.notify.like(tag_pattern(m), escape="\\") for m in query.notify_member_ids))
            )
        statement = _review_filters(statement, query)
        # Both descending, so an index on (status, creation_date, id) yields the order without sorting.
        statement = statement.order_by(_R.creation_date.desc(), _R.id.desc())
        if query.page is None:
            rows = execute_flushed(self._session, statement).all()
            return self._hydrate(rows), len(rows)
        # Counting selects no columns: SQLite would otherwise read each matching row's document.
        counted = statement.with_only_columns(func.count(), maintain_column_froms=True).order_by(None)
        total = int(execute_flushed(self._session, counted).scalar() or 0)
        return self._hydrate(execute_flushed(self._session, paginate(statement, query.page)).all()), total

    def due(self, now: int, limit: int = 20) -> list[str]:
        """Ids of scheduled requests whose time has come. On PostgreSQL rows another process holds are
        skipped, so processes share the work instead of queueing on it."""
        statement = (
            select(_R.id)
            .where(
                _R.status == Status.SCHEDULED.value,
                _R.execution_date <= now,
            )
            .order_by(_R.execution_date)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        return list(execute_flushed(self._session, statement).scalars())

    def due_for_check(self, checked_before: int, limit: int = 20) -> list[str]:
        statement = (
            select(_R.id)
            .where(
                _R.status == Status.PENDING.value,
                _R.integration_checked_at <= checked_before,
            )
            .order_by(_R.integration_checked_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        return list(execute_flushed(self._session, statement).scalars())


def _in_scope(scope: ReviewScope) -> ColumnElement[bool]:
    return and_(
        _P.key == scope.project_key,
        _E.key == scope.environment_key,
        _R.resource_kind == scope.resource_kind,
    )


def _review_filters(statement: Select[Any], query: ApprovalQuery) -> Select[Any]:
    """``ApprovalQuery``'s review filters in SQL, on the verdict columns the mapper keeps."""
    record = _R
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
