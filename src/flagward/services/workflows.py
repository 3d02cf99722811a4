"""Workflows of a flag: create (directly or from a template), list, get, delete.

Creating a workflow changes no flag: it checks that every stage would apply (simulating the stages in
order on a copy of the flag), that its creator may make each stage's change (or request it, for a stage
with an approval condition), and that a stage whose environment requires approval has an approval
condition; then it starts the first stage. The scheduler (``workflow_runner``) applies the stages.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from flagward.domain import resources
from flagward.domain import workflows as domain
from flagward.domain.accounts import Actor
from flagward.domain.approvals import ApprovalRequest, ReviewStatus
from flagward.domain.audit import AuditAction, flag_spec
from flagward.domain.authorization import authorize
from flagward.domain.copy import plan_copy
from flagward.domain.errors import InvalidRequest, NotFound
from flagward.domain.flags import Flag
from flagward.domain.ids import check_name_length, new_object_id
from flagward.domain.instructions import apply_flag_instructions
from flagward.domain.projects import Environment
from flagward.domain.workflows import ExecutionStatus, Workflow
from flagward.services._approvals import audit, resolve_reviewers, settings_for
from flagward.services._common import load_environment, load_flag, record_audit
from flagward.services.authz import authorize_environment_read, authorize_project_read
from flagward.services.flag_changes import change_context, deletes
from flagward.services.flag_gate import approval_required_in
from flagward.services.ports import Deps, Page, UnitOfWork
from flagward.services.workflow_runner import begin_stage, copy_actions


@dataclass(frozen=True)
class NewWorkflow:
    name: str
    description: str = ""
    stages: list[object] | None = None  # StageInputs as JSON; None with a template key
    maintainer_id: str | None = None
    template_key: str | None = None


@dataclass
class WorkflowView:
    """A workflow with what its approval conditions' requests say now (by request id)."""

    workflow: Workflow
    requests: dict[str, tuple[ApprovalRequest, ReviewStatus]] = field(default_factory=dict)


def _flag_resource(flag: Flag, env: Environment) -> str:
    return resources.flag(flag.project_key, flag.key, flag.tags, env_key=env.key, env_tags=env.tags)


def _view(uow: UnitOfWork, workflow: Workflow) -> WorkflowView:
    view = WorkflowView(workflow)
    for stage in workflow.stages:
        request = uow.approvals.get(stage.approval_request_id) if stage.approval_request_id else None
        if request is not None:
            env = uow.environments.get(request.project_key, request.environment_key)
            status = request.review_status(settings_for(env, request.resource_kind)) if env else ReviewStatus.PENDING
            view.requests[request.id] = (request, status)
    return view


def create_workflow(
    deps: Deps, *, actor: Actor, project_key: str, flag_key: str, env_key: str, new: NewWorkflow, dry_run: bool = False
) -> WorkflowView:
    """``dry_run``: check everything, store nothing, and answer the workflow that would be made.

    Raises NotFound (project, environment, flag, template), Forbidden, InvalidRequest (a stage that
    would not apply, names an unknown environment, or needs an approval condition it lacks)."""
    if not isinstance(new.name, str) or not new.name.strip():
        raise InvalidRequest("name is required")
    check_name_length(new.name)
    if len(new.description or "") > domain.MAX_DESCRIPTION:
        raise InvalidRequest(f"description must be at most {domain.MAX_DESCRIPTION} characters")
    with deps.uow() as uow:
        env = load_environment(uow, project_key, env_key)
        flag = load_flag(uow, project_key, flag_key, for_update=True)
        authorize(actor, AuditAction.UPDATE_FEATURE_WORKFLOWS, _flag_resource(flag, env))
        now = deps.clock.now_ms()
        workflow = Workflow(
            id=new_object_id(),
            project_key=project_key,
            flag_key=flag_key,
            environment_key=env_key,
            name=new.name,
            description=new.description or "",
            creation_date=now,
            stages=domain.parse_stages(_stage_inputs(uow, new), now=now),
            maintainer_id=new.maintainer_id or actor.member_id or actor.owner_id,
            requestor_id=actor.member_id,
            flag_id=flag.id,
            requestor_token_id=actor.token_id if actor.member_id is None else None,
            template_key=new.template_key,
        )
        if new.maintainer_id is not None and uow.members.get(new.maintainer_id) is None:
            raise InvalidRequest(f"maintainerId: unknown member '{new.maintainer_id}'")
        check_stages(uow, deps, actor, workflow, flag)
        begin_stage(uow, deps, workflow, 0)
        uow.workflows.add(workflow)
        _audit(uow, deps, actor, workflow, "created workflow")
        view = _view(uow, workflow)
        if not dry_run:
            uow.commit()
    return view


def _stage_inputs(uow: UnitOfWork, new: NewWorkflow) -> object:
    if new.template_key is None:
        return new.stages
    if new.stages:
        raise InvalidRequest("Give either stages or templateKey, not both")
    template = uow.workflow_templates.get(new.template_key)
    if template is None:
        raise NotFound(f"Unknown workflow template '{new.template_key}'")
    return template.stages


def check_stages(uow: UnitOfWork, deps: Deps, actor: Actor, workflow: Workflow, flag: Flag) -> None:
    """Simulate the stages in order on a copy of the flag; check rights and approval policies."""
    environments = {e.key: e for e in uow.environments.find(flag.project_key)[0]}
    gated = approval_required_in(uow, flag, list(environments.values()))
    working = flag
    for index, stage in enumerate(workflow.stages):
        where = f"stages[{index}]"
        env_key = workflow.stage_env(index)
        if env_key not in environments or env_key not in flag.environments:
            raise InvalidRequest(f"{where}.environmentKey: unknown environment '{env_key}'")
        env = environments[env_key]
        if deletes(stage.instructions):
            raise InvalidRequest(f"{where}.action: a workflow cannot delete its flag")
        if env_key in gated and stage.approval is None:
            raise InvalidRequest(
                f"{where}: environment '{env_key}' requires approval for this flag; give the stage an "
                f"'{domain.APPROVAL_KIND}' condition"
            )
        working = _simulate(uow, deps, workflow, index, working, where)
        if stage.approval is not None:
            authorize(actor, AuditAction.CREATE_APPROVAL_REQUEST, _flag_resource(flag, env))
            try:
                resolve_reviewers(uow, stage.approval.notify_member_ids, stage.approval.notify_team_keys)
            except InvalidRequest as exc:
                raise InvalidRequest(f"{where}.conditions: {exc.message}") from None
        else:
            authorize(actor, AuditAction.UPDATE_FEATURE_WORKFLOWS, _flag_resource(flag, env))


def _simulate(uow: UnitOfWork, deps: Deps, workflow: Workflow, index: int, flag: Flag, where: str) -> Flag:
    """``flag`` after stage ``index``'s action; InvalidRequest (naming the stage) if it would not apply."""
    stage, env_key = workflow.stages[index], workflow.stage_env(index)
    context = change_context(uow, deps.clock, flag)
    try:
        instructions = stage.instructions
        if stage.copies is not None:
            source = workflow.source_env(index)
            if source not in flag.environments:
                raise InvalidRequest(f"source.key: unknown environment '{source}'")
            actions = copy_actions(stage.copies, "instructions[0]")
            instructions = plan_copy(
                flag, source, env_key, actions, segment_exists=context.segment_exists, get_flag=context.get_flag
            )
            if not instructions:
                return flag
        return apply_flag_instructions(flag, instructions, environment_key=env_key, context=context).flag
    except InvalidRequest as exc:
        raise InvalidRequest(f"{where}.action: {exc.message}") from None


def list_workflows(
    deps: Deps,
    *,
    actor: Actor,
    project_key: str,
    flag_key: str,
    env_key: str,
    status: str | None,
    sort: str | None,
    page: Page,
) -> tuple[list[WorkflowView], int]:
    if status is not None and status not in ("active", "completed", "failed"):
        raise InvalidRequest("status must be active, completed or failed")
    if sort not in (None, "creationDate", "-creationDate"):
        raise InvalidRequest("sort must be creationDate or -creationDate (sorting by stopDate is not supported)")
    authorize_project_read(actor, project_key)
    with deps.uow(write=False) as uow:
        authorize_environment_read(actor, load_environment(uow, project_key, env_key))
        load_flag(uow, project_key, flag_key)
        found, total = uow.workflows.find(
            project_key, flag_key, env_key, status=status, sort=sort or "-creationDate", page=page
        )
        return [_view(uow, w) for w in found], total


def _load(uow: UnitOfWork, project_key: str, flag_key: str, env_key: str, workflow_id: str) -> Workflow:
    workflow = uow.workflows.get(workflow_id)
    if workflow is None or (workflow.project_key, workflow.flag_key, workflow.environment_key) != (
        project_key,
        flag_key,
        env_key,
    ):
        raise NotFound("Unable to find workflow")
    return workflow


def get_workflow(
    deps: Deps, *, actor: Actor, project_key: str, flag_key: str, env_key: str, workflow_id: str
) -> WorkflowView:
    authorize_project_read(actor, project_key)
    with deps.uow(write=False) as uow:
        authorize_environment_read(actor, load_environment(uow, project_key, env_key))
        load_flag(uow, project_key, flag_key)
        return _view(uow, _load(uow, project_key, flag_key, env_key, workflow_id))


def delete_workflow(
    deps: Deps, *, actor: Actor, project_key: str, flag_key: str, env_key: str, workflow_id: str
) -> None:
    """Delete the workflow; the pending approval request of its active stage is deleted with it (a
    stage that has not run never will). Raises NotFound, Forbidden."""
    with deps.uow() as uow:
        env = load_environment(uow, project_key, env_key)
        flag = load_flag(uow, project_key, flag_key)
        authorize(actor, AuditAction.UPDATE_FEATURE_WORKFLOWS, _flag_resource(flag, env))
        workflow = uow.workflows.get(workflow_id, for_update=True)
        if workflow is None or workflow.environment_key != env_key or workflow.flag_key != flag_key:
            raise NotFound("Unable to find workflow")
        for stage in workflow.stages:
            if stage.status is not ExecutionStatus.ACTIVE or not stage.approval_request_id:
                continue
            request = uow.approvals.get(stage.approval_request_id, for_update=True)
            if request is not None and request.is_open:
                uow.approvals.delete(request)
                audit(uow, deps.clock, actor, request, AuditAction.DELETE_APPROVAL_REQUEST, "deleted")
        uow.workflows.delete(workflow)
        _audit(uow, deps, actor, workflow, "deleted workflow")
        uow.commit()


def _audit(uow: UnitOfWork, deps: Deps, actor: Actor, workflow: Workflow, verb: str) -> None:
    record_audit(
        uow,
        deps.clock,
        actor,
        kind="flag",
        name=workflow.name,
        actions=[AuditAction.UPDATE_FEATURE_WORKFLOWS],
        resource=flag_spec(workflow.project_key, workflow.flag_key, workflow.environment_key),
        description=f"{verb[0].upper()}{verb[1:]} '{workflow.name}' ({workflow.id}) on flag {workflow.flag_key} "
        f"with {len(workflow.stages)} stage(s)",
        title_verb=verb,
    )


__all__ = [
    "NewWorkflow",
    "WorkflowView",
    "create_workflow",
    "delete_workflow",
    "get_workflow",
    "list_workflows",
]
