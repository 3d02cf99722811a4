"""Flag triggers. A trigger belongs to a flag and an environment (their rows' ids, so that it goes with
them when either is deleted); it is read back with their keys."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, delete, select
from sqlalchemy.orm import Session

from flagward.domain.triggers import Trigger
from flagward.storage.records import EnvironmentRecord, FlagRecord, FlagTriggerRecord, ProjectRecord


def _trigger(record: FlagTriggerRecord, project_key: str, flag_key: str, env_key: str) -> Trigger:
    return Trigger(
        id=record.id,
        project_key=project_key,
        flag_key=flag_key,
        environment_key=env_key,
        integration_key=record.integration_key,
        instructions=tuple(dict(i) for i in record.instructions),
        enabled=record.enabled,
        secret_hash=record.secret_hash,
        url_tail=record.url_tail,
        creation_date=record.creation_date,
        maintainer_id=record.maintainer_id,
        comment=record.comment,
        version=record.version,
        trigger_count=record.trigger_count,
        last_triggered_at=record.last_triggered_at,
        approved=record.approved,
    )


def _fill(record: FlagTriggerRecord, trigger: Trigger) -> None:
    record.secret_hash = trigger.secret_hash
    record.url_tail = trigger.url_tail
    record.integration_key = trigger.integration_key
    record.instructions = [dict(i) for i in trigger.instructions]
    record.enabled = trigger.enabled
    record.maintainer_id = trigger.maintainer_id
    record.comment = trigger.comment
    record.version = trigger.version
    record.trigger_count = trigger.trigger_count
    record.last_triggered_at = trigger.last_triggered_at
    record.approved = trigger.approved


def _with_keys() -> Select[Any]:
    return (
        select(FlagTriggerRecord, ProjectRecord.key, FlagRecord.key, EnvironmentRecord.key)
        .join(FlagRecord, FlagRecord.id == FlagTriggerRecord.flag_id)
        .join(ProjectRecord, ProjectRecord.id == FlagRecord.project_id)
        .join(EnvironmentRecord, EnvironmentRecord.id == FlagTriggerRecord.environment_id)
    )


class SqlTriggers:
    def __init__(self, session: Session) -> None:
        self._session = session

    def _one(self, statement: Select[Any], *, for_update: bool) -> Trigger | None:
        if for_update:
            # Only the trigger's row: the flag and its project are locked by the flag write, in that order.
            statement = statement.with_for_update(of=FlagTriggerRecord)
        row = self._session.execute(statement).first()
        return _trigger(*row) if row else None

    def list_for(self, project_key: str, flag_key: str, env_key: str) -> list[Trigger]:
        """Oldest first."""
        statement = (
            _with_keys()
            .where(ProjectRecord.key == project_key, FlagRecord.key == flag_key, EnvironmentRecord.key == env_key)
            .order_by(FlagTriggerRecord.creation_date, FlagTriggerRecord.id)
        )
        return [_trigger(*row) for row in self._session.execute(statement)]

    def get(self, trigger_id: str, *, for_update: bool = False) -> Trigger | None:
        return self._one(_with_keys().where(FlagTriggerRecord.id == trigger_id), for_update=for_update)

    def find_by_secret(self, secret_hash: str, *, for_update: bool = False) -> Trigger | None:
        return self._one(_with_keys().where(FlagTriggerRecord.secret_hash == secret_hash), for_update=for_update)

    def add(self, trigger: Trigger) -> None:
        flag_id, env_id = self._session.execute(
            select(FlagRecord.id, EnvironmentRecord.id)
            .join(ProjectRecord, ProjectRecord.id == FlagRecord.project_id)
            .join(EnvironmentRecord, EnvironmentRecord.project_id == ProjectRecord.id)
            .where(
                ProjectRecord.key == trigger.project_key,
                FlagRecord.key == trigger.flag_key,
                EnvironmentRecord.key == trigger.environment_key,
            )
        ).one()
        record = FlagTriggerRecord(
            id=trigger.id, flag_id=flag_id, environment_id=env_id, creation_date=trigger.creation_date
        )
        _fill(record, trigger)
        self._session.add(record)

    def update(self, trigger: Trigger) -> None:
        record = self._session.get(FlagTriggerRecord, trigger.id)
        if record is not None:
            _fill(record, trigger)

    def delete(self, trigger: Trigger) -> None:
        self._session.execute(delete(FlagTriggerRecord).where(FlagTriggerRecord.id == trigger.id))
