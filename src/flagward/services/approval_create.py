"""Creating approval requests: a change to a flag's configuration in one environment, a copy of another
environment's configuration (materialised as the instructions it amounts to), or a change to a segment."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from flagward.domain import approvals as domain
from flagward.domain.accounts import Actor
from flagward.domain.approvals import ApprovalRequest, CopySource, ResourceKind, WorkflowMeta
from flagward.domain.audit import AuditAction
from flagward.domain.authorization import authorize
from flagward.domain.copy import APPROVAL_COPY_ACTIONS, CopyAction, chosen_actions, plan_copy
from flagward.domain.errors import InvalidRequest, OptimisticLockError
from flagward.domain.flags import Flag
from flagward.domain.instructions import apply_flag_instructions
from flagward.domain.instructions.configuration import KIND as REPLACE_CONFIGURATION
from flagward.domain.notifications import RequestEvent
from flagward.domain.projects import ApprovalSettings, Environment
from flagward.domain.segment_changes import apply_segment_instructions
from flagward.domain.segment_configuration import KIND as REPLACE_SEGMENT_CONFIGURATION
from flagward.domain.segments import Segment
from flagward.services import scheduled_changes, triggers
from flagward.services._approvals import Seen, audit, parse_resource_id, resolve_reviewers, settings_for
from flagward.services._common import load_environment, load_flag
from flagward.services.authz import (
    authorize_project_read,
    flag_resource,
    segment_resource,
)
from flagward.services.external_approvals import enqueue_creation
from flagward.services.flag_changes import change_context, check_deletable, deletes
from flagward.services.notify import tell
from flagward.services.ports import Deps, UnitOfWork
from flagward.services.review_teams import required_team_members
from flagward.services.segments import load_segment, segment_context


@dataclass(frozen=True)
class NewRequest:
    description: str
    instructions: list[dict[str, Any]]
    comment: str | None = None
    notify_member_ids: list[str] = field(default_factory=list)
    notify_team_keys: list[str] = field(default_factory=list)
    execution_date: int | None = None
    operating_on_id: str | None = None


@dataclass(frozen=True)
class NewCopyRequest:
    description: str
    source: CopySource
    comment: str | None = None
    notify_member_ids: list[str] = field(default_factory=list)
    notify_team_keys: list[str] = field(default_factory=list)
    included: list[CopyAction] | None = None
    excluded: list[CopyAction] | None = None


@dataclass(frozen=True)
class _Target:
    kind: ResourceKind
    env: Environment  # as read in the caller's transaction: the request is stored under its ids
    key: str
    base_version: int

    @property
    def project_key(self) -> str:
        return self.env.project_key

    @property
    def env_key(self) -> str:
        return self.env.key


def _add(
    uow: UnitOfWork,
    deps: Deps,
    actor: Actor,
    target: _Target,
    *,
    description: str,
    instructions: list[dict[str, Any]],
    comment: str | None,
    member_ids: list[str],
    team_keys: list[str],
    settings: ApprovalSettings,
    **extra: Any,
) -> ApprovalRequest:
    named = resolve_reviewers(uow, member_ids, team_keys)
    # Required teams' members are reviewers too (told, and in their inbox), after those named.
    required = required_team_members(uow, settings.required_reviewers, exclude=actor.member_id)
    request = domain.new_request(
        project_key=target.project_key,
        environment_key=target.env_key,
        resource_kind=target.kind,
        resource_key=target.key,
        creation_date=deps.clock.now_ms(),
        description=description,
        instructions=instructions,
        base_version=target.base_version,
        requestor_id=actor.member_id,
        requestor_token_id=actor.token_id if actor.member_id is None else None,
        comment=comment,
        notify_member_ids=named + [m for m in required if m not in named],
        notify_team_keys=list(dict.fromkeys(team_keys)),
        required_reviewers=settings.required_reviewers,
        **extra,
    )
    request.service_kind = settings.service_kind
    uow.approvals.add(request, environment=target.env)
    tell(uow, deps, request, RequestEvent.REQUESTED, actor=actor, comment=comment)
    enqueue_creation(uow, deps, request, settings)
    audit(uow, deps.clock, actor, request, AuditAction.CREATE_APPROVAL_REQUEST, "requested", comment)
    return request


def _check_instructions(instructions: object) -> list[dict[str, Any]]:
    if not isinstance(instructions, list) or not instructions or not all(isinstance(i, dict) for i in instructions):
        raise InvalidRequest("instructions must be a non-empty list of instruction objects")
    return instructions


def _check_new(new: NewRequest) -> list[dict[str, Any]]:
    domain.validate_description(new.description)
    instructions = _check_instructions(new.instructions)
    if new.operating_on_id is not None and not (
        scheduled_changes.is_schedule_request(instructions) or triggers.is_trigger_request(instructions)
    ):
        raise InvalidRequest(
            "operatingOnId names a scheduled change or a flag trigger: the instructions must then be "
            "updateScheduledChangesExecutionDate, replaceScheduledChangesInstructions or deleteScheduledChange; "
            "or enableTrigger or replaceTriggerActionInstructions"
        )
    return instructions


def create_flag_request(
    deps: Deps,
    *,
    actor: Actor,
    project_key: str,
    flag_key: str,
    env_key: str,
    new: NewRequest,
    seen: Seen | None = None,
) -> ApprovalRequest:
    """Request a change to one environment's configuration of a flag (or to the flag itself).

    The instructions must apply to the current flag; the request records the configuration version it
    was based on. Raises Forbidden (``createApprovalRequest`` on the flag in ``env_key``), NotFound,
    InvalidRequest."""
    authorize_project_read(actor, project_key)
    instructions = _check_new(new)
    with deps.uow() as uow:
        env = load_environment(uow, project_key, env_key)
        flag = load_flag(uow, project_key, flag_key, for_share=True)  # not deleted before the request is stored
        authorize(actor, "createApprovalRequest", flag_resource(flag, env))
        context = change_context(uow, deps.clock, flag)
        if triggers.is_trigger_request(instructions):
            triggers.check_request(uow, actor, flag, env, instructions, new.operating_on_id)
        elif scheduled_changes.is_schedule_request(instructions):
            scheduled_changes.check_request(uow, deps, flag, env_key, instructions, new.operating_on_id)
        elif deletes(instructions):
            check_deletable(flag, context)
        else:
            apply_flag_instructions(flag, instructions, environment_key=env_key, context=context)
        target = _Target(ResourceKind.FLAG, env, flag_key, flag.config(env_key)["version"])
        if seen is not None:
            seen.note_others(uow, project_key, env_key, ResourceKind.FLAG, flag_key)
        request = _add(
            uow,
            deps,
            actor,
            target,
            description=new.description,
            instructions=instructions,
            comment=new.comment,
            member_ids=new.notify_member_ids,
            team_keys=new.notify_team_keys,
            settings=settings_for(env, ResourceKind.FLAG),
            execution_date=new.execution_date,
            operating_on_id=new.operating_on_id,
        )
        uow.commit()
    if seen is not None:
        seen.note(env, flag)
    return request


def create_copy_request(
    deps: Deps,
    *,
    actor: Actor,
    project_key: str,
    flag_key: str,
    env_key: str,
    new: NewCopyRequest,
    seen: Seen | None = None,
) -> ApprovalRequest:
    """Request copying the source environment's configuration into ``env_key`` (the target).

    The copy is materialised now as the instructions it amounts to, so reviewers see exactly what apply
    will do, and conflicts are computed like any other request's. Raises NotFound (the flag or the
    target), OptimisticLockError (``source.version`` is not the source's current version) and
    InvalidRequest (an unknown source, both action lists, nothing to copy). Authorized as
    ``createApprovalRequest`` on the flag in the target."""
    authorize_project_read(actor, project_key)
    domain.validate_description(new.description)
    actions = chosen_actions(new.included, new.excluded, APPROVAL_COPY_ACTIONS)
    with deps.uow() as uow:
        env = load_environment(uow, project_key, env_key)
        flag = load_flag(uow, project_key, flag_key, for_share=True)  # not deleted before the request is stored
        authorize(actor, "createApprovalRequest", flag_resource(flag, env))
        if new.source.key not in flag.environments:
            raise InvalidRequest(f"source.key: unknown environment '{new.source.key}'")
        source_version = flag.environments[new.source.key]["version"]
        if new.source.version is not None and new.source.version != source_version:
            raise OptimisticLockError(
                f"The source configuration is at version {source_version}, not {new.source.version}"
            )
        context = change_context(uow, deps.clock, flag)
        instructions = plan_copy(
            flag, new.source.key, env_key, actions, segment_exists=context.segment_exists, get_flag=context.get_flag
        )
        if not instructions:
            raise InvalidRequest(
                f"There is nothing to copy: environment '{env_key}' already matches '{new.source.key}' "
                "for the chosen actions"
            )
        target = _Target(ResourceKind.FLAG, env, flag_key, flag.config(env_key)["version"])
        if seen is not None:
            seen.note_others(uow, project_key, env_key, ResourceKind.FLAG, flag_key)
        request = _add(
            uow,
            deps,
            actor,
            target,
            description=new.description,
            instructions=instructions,
            comment=new.comment,
            member_ids=new.notify_member_ids,
            team_keys=new.notify_team_keys,
            settings=settings_for(env, ResourceKind.FLAG),
            source=CopySource(key=new.source.key, version=source_version),
        )
        uow.commit()
    if seen is not None:
        seen.note(env, flag)
    return request


def create_request(
    deps: Deps, *, actor: Actor, resource_id: object, new: NewRequest, seen: Seen | None = None
) -> ApprovalRequest:
    """POST /api/v2/approval-requests: a request on a flag or a segment named by ``resourceId``."""
    project_key, env_key, kind, key = parse_resource_id(resource_id)
    if kind is ResourceKind.FLAG:
        return create_flag_request(
            deps, actor=actor, project_key=project_key, flag_key=key, env_key=env_key, new=new, seen=seen
        )
    authorize_project_read(actor, project_key)
    instructions = _check_new(new)
    with deps.uow() as uow:
        env = load_environment(uow, project_key, env_key)
        segment = load_segment(uow, project_key, env_key, key, for_update=True)
        authorize(actor, "createApprovalRequest", segment_resource(segment, env))
        apply_segment_instructions(segment, instructions, context=segment_context(uow, deps.clock, segment))
        request = _add(
            uow,
            deps,
            actor,
            _Target(kind, env, key, segment.version),
            description=new.description,
            instructions=instructions,
            comment=new.comment,
            member_ids=new.notify_member_ids,
            team_keys=new.notify_team_keys,
            settings=settings_for(env, kind),
            execution_date=new.execution_date,
        )
        uow.commit()
    if seen is not None:
        seen.note(env, None)
    return request


def add_workflow_request(
    uow: UnitOfWork,
    deps: Deps,
    actor: Actor,
    *,
    env: Environment,
    flag: Flag,
    description: str,
    instructions: list[dict[str, Any]],
    member_ids: list[str],
    team_keys: list[str],
    meta: WorkflowMeta,
    source: CopySource | None = None,
) -> ApprovalRequest:
    """The approval condition of a workflow stage: a request on ``flag`` in ``env`` carrying
    ``customWorkflowMetadata``, made in the caller's transaction on behalf of the workflow's creator.
    The instructions must already have been checked against the flag."""
    target = _Target(ResourceKind.FLAG, env, flag.key, flag.config(env.key)["version"])
    return _add(
        uow,
        deps,
        actor,
        target,
        description=description,
        instructions=instructions,
        comment=None,
        member_ids=member_ids,
        team_keys=team_keys,
        settings=settings_for(env, ResourceKind.FLAG),
        source=source,
        custom_workflow=meta,
    )


def add_import_request(
    uow: UnitOfWork, deps: Deps, actor: Actor, *, env: Environment, flag: Flag, description: str, configuration: Any
) -> ApprovalRequest:
    """An import into ``env`` that requires approval (``flagward import --as-requests``): a request on
    ``flag`` (as stored in the caller's transaction) to replace its configuration there with the imported
    one, verbatim (``replaceFlagConfiguration``: salt, rule ids and seeds kept). Checked against the flag
    now, as any request's instructions are. Raises Forbidden (``createApprovalRequest``), InvalidRequest."""
    authorize(actor, "createApprovalRequest", flag_resource(flag, env))
    instructions = [{"kind": REPLACE_CONFIGURATION, "configuration": configuration}]
    apply_flag_instructions(flag, instructions, environment_key=env.key, context=change_context(uow, deps.clock, flag))
    target = _Target(ResourceKind.FLAG, env, flag.key, flag.config(env.key)["version"])
    return _add_import(uow, deps, actor, target, env, description=description, instructions=instructions)


def add_segment_import_request(
    uow: UnitOfWork,
    deps: Deps,
    actor: Actor,
    *,
    env: Environment,
    segment: Segment,
    description: str,
    configuration: Any,
) -> ApprovalRequest:
    """An import of a segment into ``env`` whose segments require approval (``flagward import
    --as-requests``): a request on ``segment`` (as stored in the caller's transaction) to replace its salt,
    targets and rules with the imported ones, verbatim (``replaceSegmentConfiguration``). Checked against
    the segment now, as any request's instructions are. Raises Forbidden (``createApprovalRequest``),
    InvalidRequest."""
    authorize(actor, "createApprovalRequest", segment_resource(segment, env))
    instructions = [{"kind": REPLACE_SEGMENT_CONFIGURATION, "configuration": configuration}]
    apply_segment_instructions(segment, instructions, context=segment_context(uow, deps.clock, segment))
    target = _Target(ResourceKind.SEGMENT, env, segment.key, segment.version)
    return _add_import(uow, deps, actor, target, env, description=description, instructions=instructions)


def _add_import(
    uow: UnitOfWork,
    deps: Deps,
    actor: Actor,
    target: _Target,
    env: Environment,
    *,
    description: str,
    instructions: list[dict[str, Any]],
) -> ApprovalRequest:
    """An import's request: no comment and no named reviewers (required teams' members are still told)."""
    return _add(
        uow,
        deps,
        actor,
        target,
        description=description,
        instructions=instructions,
        comment=None,
        member_ids=[],
        team_keys=[],
        settings=settings_for(env, target.kind),
    )
