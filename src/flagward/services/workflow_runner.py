"""Running workflows: starting a stage (making its approval request) and, when its conditions are met,
applying its action through the write path, then starting the next stage.

A stage with an approval condition is applied by executing its approval request
(``approval_apply.execute``): the request's approval satisfies the gate in its environment and nowhere
else. A stage without one writes through ``commit_flag_change`` as the server acting for the workflow's
creator, which never bypasses the gate: where approval is required, such a stage fails (and says so).

``run_due_workflows`` runs in every server process's scheduler: each workflow's row is locked and its
state re-read under the lock, so a stage is applied exactly once however many processes look at it.
"""

from __future__ import annotations

from typing import Any

from flagward.domain import workflows as domain
from flagward.domain.accounts import Actor, ActorKind, Role
from flagward.domain.approvals import ApprovalRequest, CopySource, ReviewStatus, Status, WorkflowMeta
from flagward.domain.audit import AuditAction, flag_spec
from flagward.domain.copy import APPROVAL_COPY_ACTIONS, CopyAction, chosen_actions, parse_actions, plan_copy
from flagward.domain.errors import ApprovalRequired, DomainError, InvalidRequest, NotFound, OptimisticLockError
from flagward.domain.flags import Flag
from flagward.domain.instructions import apply_flag_instructions
from flagward.domain.projects import Environment
from flagward.domain.workflows import ExecutionStatus, Stage, Workflow
from flagward.services._approvals import settings_for
from flagward.services._common import load_environment, load_flag, record_audit
from flagward.services.approval_apply import execute
from flagward.services.approval_create import add_workflow_request
from flagward.services.flag_changes import change_context, commit_flag_change
from flagward.services.ports import Deps, UnitOfWork


def workflow_actor(workflow: Workflow) -> Actor:
    """The server, acting for whoever made the workflow (it never bypasses approval)."""
    return Actor(
        kind=ActorKind.SYSTEM,
        role=Role.OWNER,
        member_id=workflow.requestor_id,
        token_id=workflow.requestor_token_id,
        token_name="workflow",
    )


def copy_actions(instruction: dict[str, Any], where: str) -> list[CopyAction]:
    """The parts a ``copyFlagConfigFrom`` instruction copies. Raises InvalidRequest."""
    included = instruction.get("includedActions")
    excluded = instruction.get("excludedActions")
    return chosen_actions(
        None if included is None else parse_actions(included, f"{where}.includedActions", APPROVAL_COPY_ACTIONS),
        None if excluded is None else parse_actions(excluded, f"{where}.excludedActions", APPROVAL_COPY_ACTIONS),
        APPROVAL_COPY_ACTIONS,
    )


def stage_instructions(uow: UnitOfWork, deps: Deps, workflow: Workflow, index: int, flag: Flag) -> list[dict[str, Any]]:
    """What stage ``index`` does to ``flag`` as it is now: its instructions, or the copy they plan
    (empty: nothing differs). Raises InvalidRequest."""
    stage = workflow.stages[index]
    copy = stage.copies
    if copy is None:
        return stage.instructions
    source, target = workflow.source_env(index), workflow.stage_env(index)
    if source not in flag.environments:
        raise InvalidRequest(f"unknown source environment '{source}'")
    context = change_context(uow, deps.clock, flag)
    actions = copy_actions(copy, "action.instructions[0]")
    return plan_copy(flag, source, target, actions, segment_exists=context.segment_exists, get_flag=context.get_flag)


def begin_stage(uow: UnitOfWork, deps: Deps, workflow: Workflow, index: int) -> None:
    """Make stage ``index`` active; with an approval condition, request the approval now (a copy is
    planned now, so reviewers see exactly what applying it will do). Raises InvalidRequest, NotFound."""
    now = deps.clock.now_ms()
    stage = domain.start_stage(workflow, index, now=now)
    approval = stage.approval
    if approval is None:
        return
    env = load_environment(uow, workflow.project_key, workflow.stage_env(index))
    flag = load_flag(uow, workflow.project_key, workflow.flag_key, for_update=True)
    instructions = stage_instructions(uow, deps, workflow, index, flag)
    if not instructions:  # the environment already matches: nothing to review
        approval.status, approval.stop_date = ExecutionStatus.COMPLETED, now
        return
    if stage.copies is None:
        apply_flag_instructions(
            flag, instructions, environment_key=env.key, context=change_context(uow, deps.clock, flag)
        )
    source = None
    if stage.copies is not None:
        source_key = workflow.source_env(index)
        source = CopySource(key=source_key, version=flag.environments[source_key]["version"])
    request = add_workflow_request(
        uow,
        deps,
        workflow_actor(workflow),
        env=env,
        flag=flag,
        description=approval.description or f"{workflow.name}: {stage.name}",
        instructions=instructions,
        member_ids=approval.notify_member_ids,
        team_keys=approval.notify_team_keys,
        meta=WorkflowMeta(name=workflow.name, stage_index=index, stage_name=stage.name, workflow_id=workflow.id),
        source=source,
    )
    stage.approval_request_id = request.id


def run_due_workflows(deps: Deps, *, limit: int = 20) -> list[str]:
    """Advance the workflows whose active stage may be ready, each in its own transactions; a stage that
    completes starts the next, which runs at once if it is ready too. Returns the ids of the stages
    applied or failed here."""
    # Only ids: each is locked and re-checked in a transaction of its own. A read transaction, so the
    # scheduler's polls never queue for SQLite's writer lock.
    with deps.uow(write=False) as uow:
        due = uow.workflows.due(deps.clock.now_ms(), limit)
    done: list[str] = []
    for workflow_id in due:
        for _ in range(domain.MAX_STAGES):
            try:
                stage_id = _advance(deps, workflow_id)
            except OptimisticLockError:
                break  # lost a race with a concurrent transaction: next run
            except DomainError as exc:  # what no stage check foresaw: the stage fails rather than retry forever
                stage_id = _fail_alone(deps, workflow_id, exc.message)
            if stage_id is None:
                break
            done.append(stage_id)
    return done


def _advance(deps: Deps, workflow_id: str) -> str | None:
    """Apply (or fail) the workflow's active stage if its conditions are met; its id, else None."""
    with deps.uow() as uow:
        workflow = uow.workflows.get(workflow_id, for_update=True)
        index = workflow.active_index() if workflow and workflow.status is ExecutionStatus.ACTIVE else None
        if workflow is None or index is None:
            return None  # another process got there first, or it was deleted
        stage, now = workflow.stages[index], deps.clock.now_ms()
        if stage.due_at is not None and stage.due_at > now:
            return None
        flag = uow.flags.get(workflow.project_key, workflow.flag_key)
        if flag is None or (workflow.flag_id is not None and flag.id != workflow.flag_id):
            _fail(uow, deps, workflow, index, "The workflow's flag was deleted")
            uow.workflows.update(workflow)
            uow.commit()
            return stage.id
        outcome = _conditions(uow, workflow, stage)
        if outcome is None:
            domain.wait_for_approval(stage, now=now)
            uow.workflows.update(workflow)
            uow.commit()
            return None
        if isinstance(outcome, str):
            _fail(uow, deps, workflow, index, outcome)
        else:
            _apply(uow, deps, workflow, index, outcome if isinstance(outcome, ApprovalRequest) else None)
        uow.workflows.update(workflow)
        uow.commit()
    return stage.id


def _fail_alone(deps: Deps, workflow_id: str, reason: str) -> str | None:
    with deps.uow() as uow:
        workflow = uow.workflows.get(workflow_id, for_update=True)
        index = workflow.active_index() if workflow and workflow.status is ExecutionStatus.ACTIVE else None
        if workflow is None or index is None:
            return None
        _fail(uow, deps, workflow, index, reason)
        uow.workflows.update(workflow)
        uow.commit()
    return workflow.stages[index].id


def _conditions(uow: UnitOfWork, workflow: Workflow, stage: Stage) -> ApprovalRequest | bool | str | None:
    """Whether the stage's approval is met: its request (approved), True (no approval needed), a reason
    to fail, or None (still waiting)."""
    approval = stage.approval
    if approval is None or approval.status is ExecutionStatus.COMPLETED:
        return True
    request = uow.approvals.get(stage.approval_request_id or "", for_update=True)
    if request is None:
        return "The stage's approval request was deleted"
    if request.status is not Status.PENDING:
        return f"The stage's approval request is {request.status}"
    env = load_environment(uow, request.project_key, request.environment_key)
    settings = settings_for(env, request.resource_kind)
    if request.review_status(settings) is ReviewStatus.DECLINED:
        return "The stage's approval request was declined"
    needed = max(settings.min_num_approvals, approval.min_num_approvals or 0)
    return request if request.approvals() >= needed else None


def _apply(uow: UnitOfWork, deps: Deps, workflow: Workflow, index: int, request: ApprovalRequest | None) -> None:
    now = deps.clock.now_ms()
    stage = workflow.stages[index]
    domain.mark_schedule_met(stage, now=now)
    actor = workflow_actor(workflow)
    try:
        env = load_environment(uow, workflow.project_key, workflow.stage_env(index))
        if request is not None:
            failure = execute(uow, deps, request, actor, env, comment=_comment(workflow, index), scheduled=True)
        else:
            failure = _write(uow, deps, workflow, index, env, actor)
    except (InvalidRequest, NotFound) as exc:
        failure = exc
    if failure is not None:
        _fail(uow, deps, workflow, index, failure.message)
        return
    following = domain.complete_stage(workflow, index, now=now)
    if following is None:
        return
    try:
        begin_stage(uow, deps, workflow, index + 1)
    except (InvalidRequest, NotFound) as exc:
        _fail(uow, deps, workflow, index + 1, exc.message)


def _write(
    uow: UnitOfWork, deps: Deps, workflow: Workflow, index: int, env: Environment, actor: Actor
) -> DomainError | None:
    """A stage without an approval condition, through the one write path (the gate included)."""
    flag = load_flag(uow, workflow.project_key, workflow.flag_key, for_update=True)
    try:
        instructions = stage_instructions(uow, deps, workflow, index, flag)
        if not instructions:
            return None
        context = change_context(uow, deps.clock, flag)
        change = apply_flag_instructions(flag, instructions, environment_key=env.key, context=context)
        commit_flag_change(uow, deps.clock, actor, before=flag, change=change, comment=_comment(workflow, index))
    except (ApprovalRequired, InvalidRequest, NotFound) as exc:
        return exc
    return None


def _comment(workflow: Workflow, index: int) -> str:
    return f"Workflow '{workflow.name}', stage {index + 1}: {workflow.stages[index].name}"


def _fail(uow: UnitOfWork, deps: Deps, workflow: Workflow, index: int, reason: str) -> None:
    domain.fail_stage(workflow, index, reason, now=deps.clock.now_ms())
    record_audit(
        uow,
        deps.clock,
        workflow_actor(workflow),
        kind="flag",
        name=workflow.name,
        actions=[AuditAction.UPDATE_FEATURE_WORKFLOWS],
        resource=flag_spec(workflow.project_key, workflow.flag_key, workflow.stage_env(index)),
        description=f"Workflow '{workflow.name}' ({workflow.id}) failed at stage {index + 1} "
        f"({workflow.stages[index].name}): {reason}",
        title_verb="failed a stage of workflow",
        comment=reason,
    )
