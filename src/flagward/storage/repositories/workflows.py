"""Workflows and workflow templates."""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Select, delete, func, select
from sqlalchemy.orm import Session

from flagward.domain.workflows import Condition, ExecutionStatus, Stage, Template, Workflow
from flagward.services.ports import Page
from flagward.storage.records import EnvironmentRecord, ProjectRecord, WorkflowRecord, WorkflowTemplateRecord
from flagward.storage.repositories._common import paginate


def _condition_doc(condition: Condition) -> dict[str, Any]:
    return {**dataclasses.asdict(condition), "status": condition.status.value}


def _stage_doc(stage: Stage) -> dict[str, Any]:
    doc = {k: v for k, v in dataclasses.asdict(stage).items() if k != "conditions"}
    doc["status"] = stage.status.value
    doc["conditions"] = [_condition_doc(c) for c in stage.conditions]
    return doc


def _stage(doc: dict[str, Any]) -> Stage:
    fields = dict(doc)
    conditions = [Condition(**{**c, "status": ExecutionStatus(c["status"])}) for c in fields.pop("conditions")]
    return Stage(**{**fields, "status": ExecutionStatus(fields["status"]), "conditions": conditions})


def _to_doc(workflow: Workflow) -> dict[str, Any]:
    return copy.deepcopy(
        {
            "name": workflow.name,
            "description": workflow.description,
            "maintainerId": workflow.maintainer_id,
            "requestorId": workflow.requestor_id,
            "flagId": workflow.flag_id,
            "requestorTokenId": workflow.requestor_token_id,
            "templateKey": workflow.template_key,
            "stopDate": workflow.stop_date,
            "stages": [_stage_doc(s) for s in workflow.stages],
        }
    )


def _workflow(record: WorkflowRecord, project_key: str, env_key: str) -> Workflow:
    doc = copy.deepcopy(record.doc)
    return Workflow(
        id=record.id,
        project_key=project_key,
        flag_key=record.flag_key,
        environment_key=env_key,
        name=doc["name"],
        description=doc["description"],
        creation_date=record.creation_date,
        stages=[_stage(s) for s in doc["stages"]],
        maintainer_id=doc.get("maintainerId"),
        requestor_id=doc.get("requestorId"),
        flag_id=doc.get("flagId"),
        requestor_token_id=doc.get("requestorTokenId"),
        template_key=doc.get("templateKey"),
        status=ExecutionStatus(record.status),
        stop_date=doc.get("stopDate"),
        version=record.version,
    )


class SqlWorkflows:
    def __init__(self, session: Session) -> None:
        self._session = session

    def _base(self) -> Select[Any]:
        return (
            select(WorkflowRecord, ProjectRecord.key, EnvironmentRecord.key)
            .join(ProjectRecord, ProjectRecord.id == WorkflowRecord.project_id)
            .join(EnvironmentRecord, EnvironmentRecord.id == WorkflowRecord.environment_id)
        )

    def _hydrate(self, rows: Sequence[Any]) -> list[Workflow]:
        return [_workflow(record, project_key, env_key) for record, project_key, env_key in rows]

    def get(self, workflow_id: str, *, for_update: bool = False) -> Workflow | None:
        statement = self._base().where(WorkflowRecord.id == workflow_id)
        if for_update:
            statement = statement.with_for_update(of=WorkflowRecord)
        found = self._hydrate(self._session.execute(statement).all())
        return found[0] if found else None

    def find(
        self, project_key: str, flag_key: str, env_key: str, *, status: str | None, sort: str, page: Page
    ) -> tuple[list[Workflow], int]:
        statement = self._base().where(
            ProjectRecord.key == project_key, EnvironmentRecord.key == env_key, WorkflowRecord.flag_key == flag_key
        )
        if status:
            statement = statement.where(WorkflowRecord.status == status)
        counted = statement.with_only_columns(func.count(), maintain_column_froms=True)
        total = int(self._session.scalar(counted) or 0)
        column = WorkflowRecord.creation_date
        order = column.desc() if sort.startswith("-") else column.asc()
        rows = self._session.execute(paginate(statement.order_by(order, WorkflowRecord.id), page)).all()
        return self._hydrate(rows), total

    def add(self, workflow: Workflow) -> None:
        project_id, env_id = self._session.execute(
            select(ProjectRecord.id, EnvironmentRecord.id)
            .join(EnvironmentRecord, EnvironmentRecord.project_id == ProjectRecord.id)
            .where(ProjectRecord.key == workflow.project_key, EnvironmentRecord.key == workflow.environment_key)
        ).one()
        record = WorkflowRecord(
            id=workflow.id,
            project_id=project_id,
            environment_id=env_id,
            flag_key=workflow.flag_key,
            creation_date=workflow.creation_date,
        )
        self._fill(record, workflow)
        self._session.add(record)

    def update(self, workflow: Workflow) -> None:
        record = self._session.get(WorkflowRecord, workflow.id)
        assert record is not None, "update() of a workflow that was not loaded"
        self._fill(record, workflow)

    @staticmethod
    def _fill(record: WorkflowRecord, workflow: Workflow) -> None:
        record.status = workflow.status.value
        record.wake_at = workflow.wake_at()
        record.version = workflow.version
        record.doc = _to_doc(workflow)

    def delete(self, workflow: Workflow) -> None:
        self._session.execute(delete(WorkflowRecord).where(WorkflowRecord.id == workflow.id))

    def due(self, now: int, limit: int = 20) -> list[str]:
        """Ids of active workflows whose active stage may be ready at ``now``, locked for this
        transaction; on PostgreSQL rows another process holds are skipped."""
        statement = (
            select(WorkflowRecord.id)
            .where(WorkflowRecord.status == ExecutionStatus.ACTIVE.value, WorkflowRecord.wake_at <= now)
            .order_by(WorkflowRecord.wake_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        return list(self._session.scalars(statement))


def _template(record: WorkflowTemplateRecord) -> Template:
    doc = copy.deepcopy(record.doc)
    return Template(
        id=record.id,
        key=record.key,
        name=doc["name"],
        description=doc["description"],
        creation_date=record.creation_date,
        stages=doc["stages"],
        owner_id=doc.get("ownerId"),
        maintainer_id=doc.get("maintainerId"),
    )


class SqlWorkflowTemplates:
    def __init__(self, session: Session) -> None:
        self._session = session

    def get(self, key: str) -> Template | None:
        record = self._session.scalar(select(WorkflowTemplateRecord).where(WorkflowTemplateRecord.key == key))
        return _template(record) if record else None

    def list_all(self) -> list[Template]:
        records = self._session.scalars(
            select(WorkflowTemplateRecord).order_by(WorkflowTemplateRecord.creation_date, WorkflowTemplateRecord.id)
        )
        return [_template(r) for r in records]

    def add(self, template: Template) -> None:
        doc = {
            "name": template.name,
            "description": template.description,
            "stages": template.stages,
            "ownerId": template.owner_id,
            "maintainerId": template.maintainer_id,
        }
        self._session.add(
            WorkflowTemplateRecord(
                id=template.id, key=template.key, creation_date=template.creation_date, doc=copy.deepcopy(doc)
            )
        )

    def delete(self, template: Template) -> None:
        self._session.execute(delete(WorkflowTemplateRecord).where(WorkflowTemplateRecord.id == template.id))
