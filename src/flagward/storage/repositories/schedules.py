"""Scheduled changes and expiring targets: work the scheduler does at a date."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from flagward.domain.expiring_targets import ExpiringTarget
from flagward.domain.scheduled_changes import ScheduledChange, ScheduleStatus
from flagward.storage.records import EnvironmentRecord, ExpiringTargetRecord, ProjectRecord, ScheduledChangeRecord

_PENDING = ScheduleStatus.PENDING.value


def _environment_id(session: Session, project_key: str, env_key: str) -> str | None:
    return session.scalar(
        select(EnvironmentRecord.id)
        .join(ProjectRecord, ProjectRecord.id == EnvironmentRecord.project_id)
        .where(ProjectRecord.key == project_key, EnvironmentRecord.key == env_key)
    )


def _change(record: ScheduledChangeRecord, project_key: str, env_key: str) -> ScheduledChange:
    doc = record.doc
    return ScheduledChange(
        id=record.id,
        project_key=project_key,
        environment_key=env_key,
        flag_key=record.flag_key,
        creation_date=record.creation_date,
        execution_date=record.execution_date,
        instructions=list(doc["instructions"]),
        maintainer_id=doc.get("maintainerId"),
        maintainer_token_id=doc.get("maintainerTokenId"),
        comment=doc.get("comment"),
        approved=bool(doc.get("approved")),
        approval_request_id=doc.get("approvalRequestId"),
        status=ScheduleStatus(record.status),
        failure_reason=doc.get("failureReason"),
        executed_date=doc.get("executedDate"),
        version=record.version,
    )


def _fill_change(record: ScheduledChangeRecord, change: ScheduledChange) -> None:
    record.status = change.status.value
    record.execution_date = change.execution_date
    record.version = change.version
    record.doc = {
        "instructions": change.instructions,
        "maintainerId": change.maintainer_id,
        "maintainerTokenId": change.maintainer_token_id,
        "comment": change.comment,
        "approved": change.approved,
        "approvalRequestId": change.approval_request_id,
        "failureReason": change.failure_reason,
        "executedDate": change.executed_date,
    }


class SqlScheduledChanges:
    def __init__(self, session: Session) -> None:
        self._session = session

    def _base(self) -> Select[Any]:
        return (
            select(ScheduledChangeRecord, ProjectRecord.key, EnvironmentRecord.key)
            .join(EnvironmentRecord, EnvironmentRecord.id == ScheduledChangeRecord.environment_id)
            .join(ProjectRecord, ProjectRecord.id == EnvironmentRecord.project_id)
        )

    def _hydrate(self, rows: Sequence[Any]) -> list[ScheduledChange]:
        return [_change(record, project_key, env_key) for record, project_key, env_key in rows]

    def get(self, change_id: str, *, for_update: bool = False) -> ScheduledChange | None:
        statement = self._base().where(ScheduledChangeRecord.id == change_id)
        if for_update:
            statement = statement.with_for_update(of=ScheduledChangeRecord)
        found = self._hydrate(self._session.execute(statement).all())
        return found[0] if found else None

    def for_flag(
        self, project_key: str, env_key: str | None, flag_key: str, *, pending_only: bool = False
    ) -> list[ScheduledChange]:
        """Oldest execution date first."""
        statement = self._base().where(ProjectRecord.key == project_key, ScheduledChangeRecord.flag_key == flag_key)
        if env_key is not None:
            statement = statement.where(EnvironmentRecord.key == env_key)
        if pending_only:
            statement = statement.where(ScheduledChangeRecord.status == _PENDING)
        order = (ScheduledChangeRecord.execution_date, ScheduledChangeRecord.creation_date, ScheduledChangeRecord.id)
        return self._hydrate(self._session.execute(statement.order_by(*order)).all())

    def add(self, change: ScheduledChange) -> None:
        env_id = _environment_id(self._session, change.project_key, change.environment_key)
        assert env_id is not None, "add() of a change to an unknown environment"
        record = ScheduledChangeRecord(
            id=change.id, environment_id=env_id, flag_key=change.flag_key, creation_date=change.creation_date
        )
        _fill_change(record, change)
        self._session.add(record)

    def update(self, change: ScheduledChange) -> None:
        record = self._session.get(ScheduledChangeRecord, change.id)
        assert record is not None, "update() of a change that was not loaded"
        _fill_change(record, change)

    def delete(self, change: ScheduledChange) -> None:
        record = self._session.get(ScheduledChangeRecord, change.id)
        if record is not None:
            self._session.delete(record)

    def due(self, now: int, limit: int = 20) -> list[str]:
        """Ids of pending changes whose time has come; rows another process holds are skipped."""
        statement = (
            select(ScheduledChangeRecord.id)
            .where(ScheduledChangeRecord.status == _PENDING, ScheduledChangeRecord.execution_date <= now)
            .order_by(ScheduledChangeRecord.execution_date, ScheduledChangeRecord.creation_date)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        return list(self._session.scalars(statement))


def _target(record: ExpiringTargetRecord, project_key: str, env_key: str) -> ExpiringTarget:
    doc = record.doc
    return ExpiringTarget(
        id=record.id,
        project_key=project_key,
        environment_key=env_key,
        resource_kind=record.resource_kind,
        resource_key=record.resource_key,
        context_kind=doc["contextKind"],
        context_key=doc["contextKey"],
        expiration_date=record.expiration_date,
        creation_date=doc["creationDate"],
        variation_id=doc.get("variationId"),
        target_type=doc.get("targetType"),
        approved=bool(doc.get("approved")),
        failure_reason=doc.get("failureReason"),
        version=record.version,
    )


def _fill_target(record: ExpiringTargetRecord, target: ExpiringTarget) -> None:
    record.status = "failed" if target.failure_reason else _PENDING
    record.expiration_date = target.expiration_date
    record.version = target.version
    record.doc = {
        "contextKind": target.context_kind,
        "contextKey": target.context_key,
        "creationDate": target.creation_date,
        "variationId": target.variation_id,
        "targetType": target.target_type,
        "approved": target.approved,
        "failureReason": target.failure_reason,
    }


class SqlExpiringTargets:
    def __init__(self, session: Session) -> None:
        self._session = session

    def _base(self) -> Select[Any]:
        return (
            select(ExpiringTargetRecord, ProjectRecord.key, EnvironmentRecord.key)
            .join(EnvironmentRecord, EnvironmentRecord.id == ExpiringTargetRecord.environment_id)
            .join(ProjectRecord, ProjectRecord.id == EnvironmentRecord.project_id)
        )

    def _hydrate(self, rows: Sequence[Any]) -> list[ExpiringTarget]:
        return [_target(record, project_key, env_key) for record, project_key, env_key in rows]

    def get(self, target_id: str, *, for_update: bool = False) -> ExpiringTarget | None:
        statement = self._base().where(ExpiringTargetRecord.id == target_id)
        if for_update:
            statement = statement.with_for_update(of=ExpiringTargetRecord)
        found = self._hydrate(self._session.execute(statement).all())
        return found[0] if found else None

    def for_resource(self, project_key: str, env_key: str, kind: str, key: str) -> list[ExpiringTarget]:
        """Soonest first."""
        statement = self._base().where(
            ProjectRecord.key == project_key,
            EnvironmentRecord.key == env_key,
            ExpiringTargetRecord.resource_kind == kind,
            ExpiringTargetRecord.resource_key == key,
        )
        order = (ExpiringTargetRecord.expiration_date, ExpiringTargetRecord.id)
        return self._hydrate(self._session.execute(statement.order_by(*order)).all())

    def add(self, target: ExpiringTarget) -> None:
        env_id = _environment_id(self._session, target.project_key, target.environment_key)
        assert env_id is not None, "add() of a target in an unknown environment"
        record = ExpiringTargetRecord(
            id=target.id, environment_id=env_id, resource_kind=target.resource_kind, resource_key=target.resource_key
        )
        _fill_target(record, target)
        self._session.add(record)

    def update(self, target: ExpiringTarget) -> None:
        record = self._session.get(ExpiringTargetRecord, target.id)
        assert record is not None, "update() of a target that was not loaded"
        _fill_target(record, target)

    def delete(self, target: ExpiringTarget) -> None:
        record = self._session.get(ExpiringTargetRecord, target.id)
        if record is not None:
            self._session.delete(record)

    def due(self, now: int, limit: int = 20) -> list[str]:
        statement = (
            select(ExpiringTargetRecord.id)
            .where(ExpiringTargetRecord.status == _PENDING, ExpiringTargetRecord.expiration_date <= now)
            .order_by(ExpiringTargetRecord.expiration_date)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        return list(self._session.scalars(statement))
