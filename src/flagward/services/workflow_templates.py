"""Workflow templates: a pipeline of stages saved to make workflows on any flag of any project.

A template keeps its stages as ``StageInput`` documents without state or ids. It is made from stages
given with the project, environment and flag they were written for (checked to apply there, as a
workflow's would be), or from an existing workflow. Stages name environments by key, so a promotion
pipeline (``copyFlagConfigFrom`` stages with ``environmentKey``) fits every flag of a project with those
environments; a workflow made from it is checked against its own flag when it is created.
"""

from __future__ import annotations

from dataclasses import dataclass

from flagward.domain import resources
from flagward.domain import workflows as domain
from flagward.domain.accounts import Actor
from flagward.domain.audit import AuditAction
from flagward.domain.authorization import authorize
from flagward.domain.errors import Conflict, InvalidRequest, NotFound
from flagward.domain.ids import check_name_length, new_object_id, validate_key
from flagward.domain.workflows import Template, Workflow
from flagward.services._common import load_environment, load_flag, record_audit
from flagward.services.ports import Deps, UnitOfWork
from flagward.services.workflows import check_stages


@dataclass(frozen=True)
class NewTemplate:
    key: str
    name: str | None = None
    description: str | None = None
    workflow_id: str | None = None
    stages: list[object] | None = None
    project_key: str | None = None
    environment_key: str | None = None
    flag_key: str | None = None


def list_templates(deps: Deps, *, actor: Actor, search: str | None = None) -> list[Template]:
    authorize(actor, "viewTemplate", resources.template("*"))
    with deps.uow(write=False) as uow:
        found = uow.workflow_templates.list_all()
    if search:
        needle = search.lower()
        found = [t for t in found if needle in t.name.lower() or needle in t.description.lower()]
    return found


def create_template(deps: Deps, *, actor: Actor, new: NewTemplate) -> Template:
    """Raises InvalidRequest (a bad key, neither or both of stages and workflowId, stages that do not
    apply to the flag named), NotFound (the workflow, project, environment or flag), Conflict (the key
    is taken), Forbidden."""
    key = validate_key(new.key)
    authorize(actor, AuditAction.CREATE_TEMPLATE, resources.template(key))
    if (new.stages is None) == (new.workflow_id is None):
        raise InvalidRequest("Give either stages (with projectKey, environmentKey and flagKey) or workflowId")
    check_name_length(new.name)
    if len(new.description or "") > domain.MAX_DESCRIPTION:
        raise InvalidRequest(f"description must be at most {domain.MAX_DESCRIPTION} characters")
    with deps.uow() as uow:
        if uow.workflow_templates.get(key) is not None:
            raise Conflict(f"A workflow template with key '{key}' already exists")
        stages = _stages(uow, deps, actor, new)
        template = Template(
            id=new_object_id(),
            key=key,
            name=new.name or key,
            description=new.description or "",
            creation_date=deps.clock.now_ms(),
            stages=[domain.stage_input(s) for s in stages],
            owner_id=actor.member_id or actor.owner_id,
            maintainer_id=actor.member_id or actor.owner_id,
        )
        uow.workflow_templates.add(template)
        _audit(uow, deps, actor, template, AuditAction.CREATE_TEMPLATE, "created workflow template")
        uow.commit()
    return template


def _stages(uow: UnitOfWork, deps: Deps, actor: Actor, new: NewTemplate) -> list[domain.Stage]:
    if new.workflow_id is not None:
        workflow = uow.workflows.get(new.workflow_id)
        if workflow is None:
            raise NotFound(f"Unknown workflow '{new.workflow_id}'")
        return workflow.stages
    if not (new.project_key and new.environment_key and new.flag_key):
        raise InvalidRequest("projectKey, environmentKey and flagKey are required with stages")
    load_environment(uow, new.project_key, new.environment_key)
    flag = load_flag(uow, new.project_key, new.flag_key)
    stages = domain.parse_stages(new.stages, now=None)
    sample = Workflow(
        id="template",
        project_key=new.project_key,
        flag_key=new.flag_key,
        environment_key=new.environment_key,
        name=new.name or new.key,
        description="",
        creation_date=deps.clock.now_ms(),
        stages=stages,
    )
    check_stages(uow, deps, actor, sample, flag)
    return stages


def delete_template(deps: Deps, *, actor: Actor, key: str) -> None:
    """Raises NotFound, Forbidden. Workflows made from the template are not affected."""
    authorize(actor, AuditAction.DELETE_TEMPLATE, resources.template(key))
    with deps.uow() as uow:
        template = uow.workflow_templates.get(key)
        if template is None:
            raise NotFound(f"Unknown workflow template '{key}'")
        uow.workflow_templates.delete(template)
        _audit(uow, deps, actor, template, AuditAction.DELETE_TEMPLATE, "deleted workflow template")
        uow.commit()


def _audit(uow: UnitOfWork, deps: Deps, actor: Actor, template: Template, action: AuditAction, verb: str) -> None:
    record_audit(
        uow,
        deps.clock,
        actor,
        kind="template",
        name=template.name,
        actions=[action],
        resource=resources.template(template.key),
        description=f"{verb[0].upper()}{verb[1:]} '{template.key}' with {len(template.stages)} stage(s)",
        title_verb=verb,
    )
