"""Scheduled changes of a flag in one environment (LaunchDarkly's scheduled-changes API).

Where the environment requires approval for the flag, creating, editing or deleting a scheduled change
directly is refused (405) unless the actor may bypass the approval; the way there is an approval request
whose instructions are ``addScheduledChanges`` (creating one) or, with ``operatingOnId`` naming it,
``updateScheduledChangesExecutionDate``, ``replaceScheduledChangesInstructions`` or
``deleteScheduledChange`` — applied through ``apply_request`` below, in the request's transaction.

A change so approved (or made by someone who may bypass the approval) is ``approved``: at its date the
scheduler runs its instructions through the one write path with that approval (``approved_environment``)
— the approval of its creation is its approval. Otherwise the scheduler's system actor bypasses nothing.
Execution (``scheduled_change_runs``) is exactly once across processes: the row is locked and its status
re-checked under the lock.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flagward.domain import resources
from flagward.domain import scheduled_changes as domain
from flagward.domain.accounts import Actor, ActorKind, Role
from flagward.domain.approvals import ApprovalRequest
from flagward.domain.audit import flag_spec
from flagward.domain.authorization import authorize
from flagward.domain.errors import ApprovalRequired, InvalidRequest, NotFound
from flagward.domain.flags import Flag
from flagward.domain.instructions import apply_flag_instructions
from flagward.domain.projects import Environment
from flagward.domain.scheduled_changes import ScheduledChange, ScheduleStatus
from flagward.services._common import load_environment, load_flag, record_audit
from flagward.services.authz import authorize_environment_read
from flagward.services.flag_changes import change_context, flag_step
from flagward.services.flag_gate import approval_required_in, can_bypass_approval
from flagward.services.ports import Deps, UnitOfWork

ACTION = "updateScheduledChanges"


@dataclass(frozen=True)
class ScheduledChangeView:
    change: ScheduledChange
    conflicts: list[dict[str, Any]]
    deleted: bool = False  # a PATCH with deleteScheduledChange answers the change it deleted


@dataclass(frozen=True)
class _Where:
    project_key: str
    flag_key: str
    env_key: str


def _resource(flag: Flag, env: Environment) -> str:
    return resources.flag(flag.project_key, flag.key, flag.tags, env_key=env.key, env_tags=env.tags)


def _load(uow: UnitOfWork, where: _Where, *, for_update: bool = False) -> tuple[Flag, Environment]:
    env = load_environment(uow, where.project_key, where.env_key)
    flag = load_flag(uow, where.project_key, where.flag_key, for_update=for_update)
    if env.key not in flag.environments:
        raise NotFound(f"Unknown environment '{env.key}' for flag '{flag.key}'")
    return flag, env


def _load_change(uow: UnitOfWork, where: _Where, change_id: str, *, for_update: bool = False) -> ScheduledChange:
    change = uow.scheduled_changes.get(change_id, for_update=for_update)
    if change is None or (change.project_key, change.flag_key, change.environment_key) != (
        where.project_key,
        where.flag_key,
        where.env_key,
    ):
        raise NotFound(f"Unknown scheduled change '{change_id}'")
    return change


def _check_direct(uow: UnitOfWork, actor: Actor, flag: Flag, env: Environment) -> bool:
    """Refuse (405) a direct write where approval is required, unless the actor may bypass it; whether
    approval was required (the write then stands for it)."""
    if env.key not in approval_required_in(uow, flag, uow.environments.find(flag.project_key)[0]):
        return False
    if not can_bypass_approval(actor, flag, env):
        raise ApprovalRequired(
            f"Flag configuration updates require approval: action '{ACTION}' not allowed. "
            "Create an approval request with addScheduledChanges (or operatingOnId) instead"
        )
    return True


def _conflicts(uow: UnitOfWork, deps: Deps, flag: Flag, env_key: str) -> dict[str, list[dict[str, Any]]]:
    pending = uow.scheduled_changes.for_flag(flag.project_key, env_key, flag.key, pending_only=True)
    return domain.find_conflicts(flag, pending, flag_step(change_context(uow, deps.clock, flag), env_key))


def _view(change: ScheduledChange, conflicts: dict[str, list[dict[str, Any]]]) -> ScheduledChangeView:
    if change.status is ScheduleStatus.FAILED:
        return ScheduledChangeView(change, domain.failed_conflicts(change))
    return ScheduledChangeView(change, conflicts.get(change.id, []))


def list_changes(
    deps: Deps, *, actor: Actor, project_key: str, flag_key: str, env_key: str
) -> list[ScheduledChangeView]:
    """The flag's scheduled changes in ``env_key`` (pending and failed; completed ones are history, in
    the audit log), earliest first. Raises NotFound, Forbidden."""
    authorize(actor, "viewProject", resources.project(project_key))
    with deps.uow(write=False) as uow:
        flag, env = _load(uow, _Where(project_key, flag_key, env_key))
        authorize_environment_read(actor, env)
        changes = uow.scheduled_changes.for_flag(project_key, env_key, flag_key)
        conflicts = _conflicts(uow, deps, flag, env.key)
    return [_view(c, conflicts) for c in changes if c.status is not ScheduleStatus.COMPLETED]


def get_change(
    deps: Deps, *, actor: Actor, project_key: str, flag_key: str, env_key: str, change_id: str
) -> ScheduledChangeView:
    authorize(actor, "viewProject", resources.project(project_key))
    with deps.uow(write=False) as uow:
        where = _Where(project_key, flag_key, env_key)
        flag, env = _load(uow, where)
        authorize_environment_read(actor, env)
        change = _load_change(uow, where, change_id)
        conflicts = _conflicts(uow, deps, flag, env.key)
    return _view(change, conflicts)


def _validate(uow: UnitOfWork, deps: Deps, flag: Flag, env_key: str, instructions: object) -> list[dict[str, Any]]:
    """The instructions must apply to the flag as it is. Raises InvalidRequest (InstructionError)."""
    checked = domain.check_instructions(instructions)
    apply_flag_instructions(flag, checked, environment_key=env_key, context=change_context(uow, deps.clock, flag))
    return checked


def _check_conflicts(uow: UnitOfWork, deps: Deps, flag: Flag, candidate: ScheduledChange) -> None:
    pending = uow.scheduled_changes.for_flag(flag.project_key, candidate.environment_key, flag.key, pending_only=True)
    step = flag_step(change_context(uow, deps.clock, flag), candidate.environment_key)
    message = domain.new_conflicts(flag, pending, candidate, step).message()
    if message:
        raise InvalidRequest(message)


def _audit(
    uow: UnitOfWork,
    deps: Deps,
    actor: Actor,
    flag: Flag,
    change: ScheduledChange,
    verb: str,
    *,
    comment: str | None = None,
    approval_request_id: str | None = None,
) -> None:
    record_audit(
        uow,
        deps.clock,
        actor,
        kind="flag",
        name=flag.name,
        actions=[ACTION],
        resource=flag_spec(flag.project_key, flag.key, change.environment_key),
        description=f"{verb.capitalize()} scheduled change {change.id} of flag {flag.name} ({flag.key}) "
        f"in {change.environment_key}, to execute at {change.execution_date}",
        title_verb="updated",
        comment=comment,
        current={"_id": change.id, "executionDate": change.execution_date, "instructions": change.instructions},
        approval_request_id=approval_request_id,
    )


def create_change(
    deps: Deps,
    *,
    actor: Actor,
    project_key: str,
    flag_key: str,
    env_key: str,
    execution_date: object,
    instructions: object,
    comment: str | None = None,
    ignore_conflicts: bool = False,
) -> ScheduledChangeView:
    """POST …/scheduled-changes. Raises NotFound, Forbidden, ApprovalRequired (405: the environment
    requires approval), InvalidRequest (bad date or instructions; conflicts without ``ignore_conflicts``)."""
    with deps.uow() as uow:
        flag, env = _load(uow, _Where(project_key, flag_key, env_key), for_update=True)
        authorize(actor, ACTION, _resource(flag, env))
        approved = _check_direct(uow, actor, flag, env)
        change = _new(uow, deps, actor, flag, env_key, execution_date, instructions, comment, approved=approved)
        if not ignore_conflicts:
            _check_conflicts(uow, deps, flag, change)
        uow.scheduled_changes.add(change)
        _audit(uow, deps, actor, flag, change, "created", comment=comment)
        conflicts = _conflicts(uow, deps, flag, env_key)
        uow.commit()
    return _view(change, conflicts)


def _new(
    uow: UnitOfWork,
    deps: Deps,
    actor: Actor,
    flag: Flag,
    env_key: str,
    execution_date: object,
    instructions: object,
    comment: str | None,
    *,
    approved: bool,
    approval_request_id: str | None = None,
) -> ScheduledChange:
    now = deps.clock.now_ms()
    return domain.new_scheduled_change(
        project_key=flag.project_key,
        environment_key=env_key,
        flag_key=flag.key,
        creation_date=now,
        execution_date=domain.check_execution_date(execution_date, now=now),
        instructions=_validate(uow, deps, flag, env_key, instructions),
        maintainer_id=actor.member_id,
        maintainer_token_id=actor.token_id if actor.member_id is None else None,
        comment=comment,
        approved=approved,
        approval_request_id=approval_request_id,
    )


def update_change(
    deps: Deps,
    *,
    actor: Actor,
    project_key: str,
    flag_key: str,
    env_key: str,
    change_id: str,
    instructions: object,
    comment: str | None = None,
    ignore_conflicts: bool = False,
) -> ScheduledChangeView:
    """PATCH …/scheduled-changes/{id} (semantic patch); ``deleteScheduledChange`` answers the change as
    it was, marked ``deleted``. Raises
    NotFound, Forbidden, ApprovalRequired, InvalidRequest."""
    where = _Where(project_key, flag_key, env_key)
    with deps.uow() as uow:
        flag, env = _load(uow, where, for_update=True)
        authorize(actor, ACTION, _resource(flag, env))
        change = _load_change(uow, where, change_id, for_update=True)
        approved = _check_direct(uow, actor, flag, env)
        edit = domain.parse_edit(instructions, now=deps.clock.now_ms())
        if edit.delete:
            _delete(uow, deps, actor, flag, change, comment)
            uow.commit()
            return ScheduledChangeView(change, [], deleted=True)
        # New instructions carry only this write's approval; a new date keeps the change's.
        keeps = change.approved and edit.instructions is None
        _edit(uow, deps, actor, flag, change, edit, comment, approved=approved or keeps)
        if not ignore_conflicts:
            _check_conflicts(uow, deps, flag, change)
        conflicts = _conflicts(uow, deps, flag, env_key)
        uow.commit()
    return _view(change, conflicts)


def _edit(
    uow: UnitOfWork,
    deps: Deps,
    actor: Actor,
    flag: Flag,
    change: ScheduledChange,
    edit: domain.Edit,
    comment: str | None,
    *,
    approved: bool,
    approval_request_id: str | None = None,
) -> None:
    if edit.instructions is not None:
        _validate(uow, deps, flag, change.environment_key, edit.instructions)
    changed = domain.apply_edit(change, edit)
    if approved != change.approved or approval_request_id:
        change.approved, changed = approved, True
        change.approval_request_id = approval_request_id or change.approval_request_id
    if changed:
        uow.scheduled_changes.update(change)
        _audit(uow, deps, actor, flag, change, "updated", comment=comment, approval_request_id=approval_request_id)


def _delete(
    uow: UnitOfWork,
    deps: Deps,
    actor: Actor,
    flag: Flag,
    change: ScheduledChange,
    comment: str | None,
    approval_request_id: str | None = None,
) -> None:
    if change.status is ScheduleStatus.COMPLETED:
        raise InvalidRequest("This scheduled change was executed and can no longer be deleted")
    uow.scheduled_changes.delete(change)
    _audit(uow, deps, actor, flag, change, "deleted", comment=comment, approval_request_id=approval_request_id)


def delete_change(deps: Deps, *, actor: Actor, project_key: str, flag_key: str, env_key: str, change_id: str) -> None:
    """DELETE …/scheduled-changes/{id}. Raises NotFound, Forbidden, ApprovalRequired, InvalidRequest."""
    where = _Where(project_key, flag_key, env_key)
    with deps.uow() as uow:
        flag, env = _load(uow, where, for_update=True)
        authorize(actor, ACTION, _resource(flag, env))
        change = _load_change(uow, where, change_id, for_update=True)
        _check_direct(uow, actor, flag, env)
        _delete(uow, deps, actor, flag, change, None)
        uow.commit()


# --- approval requests whose instructions act on scheduled changes -------------------------------


def is_schedule_request(instructions: list[dict[str, Any]]) -> bool:
    return any(i.get("kind") in domain.KINDS for i in instructions)


def _add_instruction(instructions: list[dict[str, Any]]) -> dict[str, Any]:
    if len(instructions) != 1:
        raise InvalidRequest(f"{domain.ADD} must be the only instruction")
    return instructions[0]


def check_request(
    uow: UnitOfWork, deps: Deps, flag: Flag, env_key: str, instructions: list[dict[str, Any]], operating_on_id: object
) -> None:
    """Validate an approval request's scheduled-change instructions as their application will: an
    ``addScheduledChanges`` {executionDate, value: instructions} alone, without ``operatingOnId``; or
    edits of the pending scheduled change ``operatingOnId`` names. Raises InvalidRequest."""
    if any(i.get("kind") == domain.ADD for i in instructions):
        if operating_on_id is not None:
            raise InvalidRequest(f"operatingOnId does not go with {domain.ADD}")
        add = _add_instruction(instructions)
        now = deps.clock.now_ms()
        domain.check_execution_date(add.get("executionDate"), now=now)
        _validate(uow, deps, flag, env_key, add.get("value"))
        return
    if not isinstance(operating_on_id, str):
        raise InvalidRequest("operatingOnId is required to edit or delete a scheduled change")
    change = _load_request_target(uow, flag, env_key, operating_on_id)
    edit = domain.parse_edit(instructions, now=deps.clock.now_ms())
    if not change.is_pending:
        raise InvalidRequest(f"Scheduled change '{operating_on_id}' is {change.status}")
    if edit.instructions is not None:
        _validate(uow, deps, flag, env_key, edit.instructions)


def _load_request_target(uow: UnitOfWork, flag: Flag, env_key: str, change_id: str) -> ScheduledChange:
    try:
        return _load_change(uow, _Where(flag.project_key, flag.key, env_key), change_id, for_update=True)
    except NotFound:
        raise InvalidRequest(f"operatingOnId: unknown scheduled change '{change_id}' of this flag") from None


def apply_request(uow: UnitOfWork, deps: Deps, actor: Actor, request: ApprovalRequest, comment: str) -> None:
    """Carry out an approved request's scheduled-change instructions in the caller's transaction; the
    change it creates or edits is thereby approved. Raises InvalidRequest, NotFound (the request fails)."""
    flag = load_flag(uow, request.project_key, request.resource_key, for_update=True)
    env_key = request.environment_key
    instructions = request.instructions
    if any(i.get("kind") == domain.ADD for i in instructions):
        add = _add_instruction(instructions)
        change = _new(
            uow,
            deps,
            _requester(request),
            flag,
            env_key,
            add.get("executionDate"),
            add.get("value"),
            comment,
            approved=True,
            approval_request_id=request.id,
        )
        uow.scheduled_changes.add(change)
        _audit(uow, deps, actor, flag, change, "created", comment=comment, approval_request_id=request.id)
        return
    change = _load_request_target(uow, flag, env_key, str(request.operating_on_id))
    edit = domain.parse_edit(instructions, now=deps.clock.now_ms())
    if edit.delete:
        _delete(uow, deps, actor, flag, change, comment, approval_request_id=request.id)
        return
    _edit(uow, deps, actor, flag, change, edit, comment, approved=True, approval_request_id=request.id)


def _requester(request: ApprovalRequest) -> Actor:
    """The scheduled change an approval request creates is maintained by whoever requested it."""
    return Actor(
        kind=ActorKind.SYSTEM,
        role=Role.READER,
        member_id=request.requestor_id,
        token_id=request.requestor_token_id,
    )
