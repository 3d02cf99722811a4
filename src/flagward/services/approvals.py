"""Approval requests: create (changes and copies), review, apply (now or scheduled), patch, delete.

Apply runs the request's instructions through the one write path (``commit_flag_change`` /
``commit_segment_change``) in the same transaction that marks the request completed; the request row is
locked first, so a request is applied at most once however many processes try.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from flagward.domain import approvals as domain
from flagward.domain.accounts import Actor, ActorKind, Role
from flagward.domain.approvals import ApprovalRequest, CopySource, ResourceKind, ReviewKind, Status
from flagward.domain.audit import AuditAction, flag_spec, segment_spec
from flagward.domain.copy import APPROVAL_COPY_ACTIONS, CopyAction, chosen_actions, plan_copy
from flagward.domain.errors import DomainError, InvalidRequest, NotFound, OptimisticLockError
from flagward.domain.instructions import apply_flag_instructions
from flagward.domain.permissions import Permission, can, require
from flagward.domain.projects import ApprovalSettings, Environment
from flagward.domain.segment_changes import apply_segment_instructions
from flagward.services._common import load_environment, load_flag, record_audit
from flagward.services.flag_changes import change_context, commit_flag_change
from flagward.services.ports import Deps, UnitOfWork
from flagward.services.segments import commit_segment_change, load_segment, segment_context


class ApprovalApplyFailed(InvalidRequest):
    """Applying found instructions that no longer apply cleanly; the request is now ``failed``."""


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
class Scope:
    """The flag-scoped routes name the request's flag and environment; a mismatch is a 404."""

    project_key: str
    flag_key: str
    environment_key: str


def settings_for(env: Environment, kind: ResourceKind) -> ApprovalSettings:
    return env.approval_settings if kind is ResourceKind.FLAG else env.segment_approval_settings


def resource_spec(request: ApprovalRequest) -> str:
    if request.resource_kind is ResourceKind.FLAG:
        return flag_spec(request.project_key, request.resource_key, request.environment_key)
    return segment_spec(request.project_key, request.environment_key, request.resource_key)


def load_request(
    uow: UnitOfWork, request_id: str, scope: Scope | None = None, *, for_update: bool = False
) -> ApprovalRequest:
    request = uow.approvals.get(request_id, for_update=for_update)
    matches = scope is None or (
        request is not None
        and request.resource_kind is ResourceKind.FLAG
        and (request.project_key, request.resource_key, request.environment_key)
        == (scope.project_key, scope.flag_key, scope.environment_key)
    )
    if request is None or not matches:
        raise NotFound("Unable to find approval request")
    return request


def resolve_reviewers(uow: UnitOfWork, member_ids: list[str], team_keys: list[str]) -> list[str]:
    """Member ids to notify: the given ones plus every member of the given teams. Unknown → 400."""
    unknown = [m for m in member_ids if uow.members.get(m) is None]
    if unknown:
        raise InvalidRequest(f"notifyMemberIds: unknown member ids {', '.join(unknown)}")
    result = list(dict.fromkeys(member_ids))
    for key in team_keys:
        team = uow.teams.get(key)
        if team is None:
            raise InvalidRequest(f"notifyTeamKeys: unknown team '{key}'")
        result += [m for m in team.member_ids if m not in result]
    return result


def _audit(
    uow: UnitOfWork,
    deps: Deps,
    actor: Actor,
    request: ApprovalRequest,
    action: AuditAction,
    verb: str,
    comment: str | None = None,
) -> None:
    record_audit(
        uow,
        deps.clock,
        actor,
        kind="approvalRequest",
        name=request.description,
        actions=[action],
        resource=resource_spec(request),
        title_verb=verb,
        description=f"{verb.capitalize()} approval request {request.id} on "
        f"{request.resource_kind} {request.resource_key} in {request.environment_key}",
        comment=comment,
        approval_request_id=request.id,
    )


def _new(
    uow: UnitOfWork,
    deps: Deps,
    actor: Actor,
    *,
    kind: ResourceKind,
    project_key: str,
    env_key: str,
    key: str,
    base_version: int,
    description: str,
    instructions: list[dict[str, Any]],
    comment: str | None,
    member_ids: list[str],
    team_keys: list[str],
    **extra: Any,
) -> ApprovalRequest:
    request = domain.new_request(
        project_key=project_key,
        environment_key=env_key,
        resource_kind=kind,
        resource_key=key,
        creation_date=deps.clock.now_ms(),
        description=description,
        instructions=instructions,
        base_version=base_version,
        requestor_id=actor.member_id,
        requestor_token_id=actor.token_id if actor.member_id is None else None,
        comment=comment,
        notify_member_ids=resolve_reviewers(uow, member_ids, team_keys),
        **extra,
    )
    uow.approvals.add(request)
    _audit(uow, deps, actor, request, AuditAction.CREATE_APPROVAL_REQUEST, "requested", comment)
    return request


def _check_instructions(instructions: object) -> list[dict[str, Any]]:
    if not isinstance(instructions, list) or not instructions or not all(isinstance(i, dict) for i in instructions):
        raise InvalidRequest("instructions must be a non-empty list of instruction objects")
    return instructions


def create_flag_request(
    deps: Deps, *, actor: Actor, project_key: str, flag_key: str, env_key: str, new: NewRequest
) -> ApprovalRequest:
    """Request a change to one environment's configuration of a flag (or to the flag itself).

    The instructions must apply to the current flag; the request records the configuration version it
    was based on. Raises Forbidden, NotFound, InvalidRequest."""
    require(actor, Permission.CREATE_APPROVAL_REQUEST)
    instructions = _check_instructions(new.instructions)
    if new.operating_on_id is not None:
        raise InvalidRequest("operatingOnId: scheduled changes are not supported; use executionDate")
    with deps.uow() as uow:
        load_environment(uow, project_key, env_key)
        flag = load_flag(uow, project_key, flag_key)
        apply_flag_instructions(
            flag, instructions, environment_key=env_key, context=change_context(uow, deps.clock, flag)
        )
        request = _new(
            uow,
            deps,
            actor,
            kind=ResourceKind.FLAG,
            project_key=project_key,
            env_key=env_key,
            key=flag_key,
            base_version=flag.config(env_key)["version"],
            description=new.description,
            instructions=instructions,
            comment=new.comment,
            member_ids=new.notify_member_ids,
            team_keys=new.notify_team_keys,
            execution_date=new.execution_date,
        )
        uow.commit()
    return request


def create_copy_request(
    deps: Deps, *, actor: Actor, project_key: str, flag_key: str, env_key: str, new: NewCopyRequest
) -> ApprovalRequest:
    """Request copying the source environment's configuration into ``env_key`` (the target).

    The copy is materialised now as the instructions it amounts to, so reviewers see exactly what apply
    will do. Raises OptimisticLockError when ``source.version`` is stale."""
    require(actor, Permission.CREATE_APPROVAL_REQUEST)
    actions = chosen_actions(new.included, new.excluded, APPROVAL_COPY_ACTIONS)
    with deps.uow() as uow:
        load_environment(uow, project_key, env_key)
        flag = load_flag(uow, project_key, flag_key)
        if new.source.key not in flag.environments:
            raise NotFound(f"Unknown source environment '{new.source.key}'")
        source_version = flag.environments[new.source.key]["version"]
        if new.source.version is not None and new.source.version != source_version:
            raise OptimisticLockError(
                f"The source configuration is at version {source_version}, not {new.source.version}"
            )
        context = change_context(uow, deps.clock, flag)
        instructions = plan_copy(
            flag,
            new.source.key,
            env_key,
            actions,
            segment_exists=context.segment_exists,
            get_flag=context.get_flag,
        )
        request = _new(
            uow,
            deps,
            actor,
            kind=ResourceKind.FLAG,
            project_key=project_key,
            env_key=env_key,
            key=flag_key,
            base_version=flag.config(env_key)["version"],
            description=new.description,
            instructions=instructions,
            comment=new.comment,
            member_ids=new.notify_member_ids,
            team_keys=new.notify_team_keys,
            source=CopySource(
                key=new.source.key,
                version=source_version if new.source.version is None else new.source.version,
            ),
        )
        uow.commit()
    return request


def parse_resource_id(resource_id: object) -> tuple[str, str, ResourceKind, str]:
    """``proj/p:env/e:flag/f`` or ``proj/p:env/e:segment/s``."""
    parts = str(resource_id).split(":") if isinstance(resource_id, str) else []
    try:
        (proj, project), (env, env_key), (kind, key) = (p.split("/", 1) for p in parts)
        if (proj, env) != ("proj", "env"):
            raise ValueError
        return project, env_key, ResourceKind(kind), key
    except ValueError:
        raise InvalidRequest(
            "resourceId must be a resource specifier such as proj/my-project:env/production:flag/my-flag"
        ) from None


def create_request(deps: Deps, *, actor: Actor, resource_id: object, new: NewRequest) -> ApprovalRequest:
    """POST /api/v2/approval-requests: a request on a flag or a segment named by ``resourceId``."""
    project_key, env_key, kind, key = parse_resource_id(resource_id)
    if kind is ResourceKind.FLAG:
        return create_flag_request(deps, actor=actor, project_key=project_key, flag_key=key, env_key=env_key, new=new)
    require(actor, Permission.CREATE_APPROVAL_REQUEST)
    instructions = _check_instructions(new.instructions)
    with deps.uow() as uow:
        load_environment(uow, project_key, env_key)
        segment = load_segment(uow, project_key, env_key, key)
        apply_segment_instructions(segment, instructions, context=segment_context(uow, deps.clock, segment))
        request = _new(
            uow,
            deps,
            actor,
            kind=kind,
            project_key=project_key,
            env_key=env_key,
            key=key,
            base_version=segment.version,
            description=new.description,
            instructions=instructions,
            comment=new.comment,
            member_ids=new.notify_member_ids,
            team_keys=new.notify_team_keys,
            execution_date=new.execution_date,
        )
        uow.commit()
    return request


def review(
    deps: Deps,
    *,
    actor: Actor,
    request_id: str,
    kind: object,
    comment: str | None,
    scope: Scope | None = None,
) -> ApprovalRequest:
    """Approve, decline or comment. Raises Forbidden (no review right; own request), InvalidRequest."""
    try:
        review_kind = ReviewKind(str(kind))
    except ValueError:
        raise InvalidRequest("kind must be one of approve, decline, comment") from None
    with deps.uow() as uow:
        request = load_request(uow, request_id, scope, for_update=True)
        env = load_environment(uow, request.project_key, request.environment_key)
        domain.add_review(
            request,
            actor,
            review_kind,
            comment,
            settings=settings_for(env, request.resource_kind),
            can_review=can(actor, Permission.REVIEW_APPROVAL_REQUEST),
            now=deps.clock.now_ms(),
        )
        uow.approvals.update(request)
        _audit(
            uow,
            deps,
            actor,
            request,
            AuditAction.REVIEW_APPROVAL_REQUEST,
            f"{review_kind}d" if review_kind is not ReviewKind.COMMENT else "commented on",
            comment,
        )
        uow.commit()
    return request


def apply(
    deps: Deps, *, actor: Actor, request_id: str, comment: str | None = None, scope: Scope | None = None
) -> ApprovalRequest:
    """Apply an approved request now, or schedule it when its ``executionDate`` is in the future.

    Raises Forbidden, InvalidRequest (not approved, already applied), ApprovalApplyFailed (the
    instructions no longer apply; the request is left ``failed``, and that state is committed)."""
    failure: DomainError | None = None
    with deps.uow() as uow:
        request = load_request(uow, request_id, scope, for_update=True)
        env = load_environment(uow, request.project_key, request.environment_key)
        domain.check_can_apply(
            request,
            actor,
            settings=settings_for(env, request.resource_kind),
            can_apply=can(actor, Permission.APPLY_APPROVAL_REQUEST),
        )
        now = deps.clock.now_ms()
        if request.execution_date is not None and request.execution_date > now:
            domain.mark_scheduled(request, actor, now=now)
            uow.approvals.update(request)
            _audit(uow, deps, actor, request, AuditAction.APPLY_APPROVAL_REQUEST, "scheduled", comment)
        else:
            failure = execute(uow, deps, request, actor, env, comment=comment, scheduled=False)
        uow.commit()
    if failure is not None:
        raise ApprovalApplyFailed(f"The approval request could not be applied and is now failed: {failure.message}")
    return request


def execute(
    uow: UnitOfWork,
    deps: Deps,
    request: ApprovalRequest,
    actor: Actor,
    env: Environment,
    *,
    comment: str | None,
    scheduled: bool,
) -> DomainError | None:
    """Run the request's instructions through the write path and mark it completed, or mark it failed
    and return why. Both outcomes are written in the caller's transaction."""
    now = deps.clock.now_ms()
    try:
        if request.resource_kind is ResourceKind.FLAG:
            flag = load_flag(uow, request.project_key, request.resource_key, for_update=True)
            change = apply_flag_instructions(
                flag,
                request.instructions,
                environment_key=request.environment_key,
                context=change_context(uow, deps.clock, flag),
            )
            commit_flag_change(
                uow,
                deps.clock,
                actor,
                before=flag,
                change=change,
                comment=comment or request.description,
                approval_request_id=request.id,
            )
        else:
            segment = load_segment(
                uow, request.project_key, request.environment_key, request.resource_key, for_update=True
            )
            change_s = apply_segment_instructions(
                segment, request.instructions, context=segment_context(uow, deps.clock, segment)
            )
            commit_segment_change(
                uow,
                deps.clock,
                actor,
                env,
                before=segment,
                change=change_s,
                comment=comment or request.description,
                approval_request_id=request.id,
            )
    except (InvalidRequest, NotFound) as exc:
        domain.mark_failed(request, actor, now=now, reason=exc.message, scheduled=scheduled)
        uow.approvals.update(request)
        _audit(uow, deps, actor, request, AuditAction.APPLY_APPROVAL_REQUEST, "failed to apply", exc.message)
        return exc
    domain.mark_applied(request, actor, now=now, scheduled=scheduled)
    uow.approvals.update(request)
    _audit(uow, deps, actor, request, AuditAction.APPLY_APPROVAL_REQUEST, "applied", comment)
    return None


def scheduled_actor(request: ApprovalRequest) -> Actor:
    """The server executes a scheduled request on behalf of whoever applied it."""
    return Actor(
        kind=ActorKind.SYSTEM,
        role=Role.OWNER,
        member_id=request.applied_by_member_id,
        token_id=request.applied_by_service_token_id,
        token_name="scheduler",
    )


def run_due(deps: Deps, *, limit: int = 20) -> list[str]:
    """Execute scheduled requests whose time has come, each in its own transaction, each exactly once
    across processes (the row is locked and its status re-checked). Returns the ids executed."""
    with deps.uow() as uow:
        due = uow.approvals.due(deps.clock.now_ms(), limit)
    done: list[str] = []
    for request_id in due:
        with deps.uow() as uow:
            request = uow.approvals.get(request_id, for_update=True)
            if request is None or request.status is not Status.SCHEDULED:
                continue  # another process got there first
            env = load_environment(uow, request.project_key, request.environment_key)
            execute(uow, deps, request, scheduled_actor(request), env, comment=None, scheduled=True)
            uow.commit()
            done.append(request_id)
    return done


def delete(deps: Deps, *, actor: Actor, request_id: str, scope: Scope | None = None) -> None:
    """Delete a request that has not been applied (a scheduled one is cancelled)."""
    with deps.uow() as uow:
        request = load_request(uow, request_id, scope, for_update=True)
        if not request.is_requestor(actor):
            require(actor, Permission.DELETE_APPROVAL_REQUEST)
        if request.status is Status.COMPLETED:
            raise InvalidRequest("An applied approval request cannot be deleted")
        uow.approvals.delete(request)
        _audit(uow, deps, actor, request, AuditAction.DELETE_APPROVAL_REQUEST, "deleted")
        uow.commit()


def patch(
    deps: Deps,
    *,
    actor: Actor,
    request_id: str,
    instructions: object,
    comment: str | None = None,
    scope: Scope | None = None,
) -> ApprovalRequest:
    """Semantic patch: ``addReviewers`` (notifyMemberIds and/or notifyTeamKeys) and ``updateDescription``."""
    with deps.uow() as uow:
        request = load_request(uow, request_id, scope, for_update=True)
        if not request.is_requestor(actor):
            require(actor, Permission.UPDATE_APPROVAL_REQUEST)
        if request.status is Status.COMPLETED:
            raise InvalidRequest("An applied approval request cannot be changed")
        expanded = _expand_reviewers(uow, instructions)
        changed = domain.apply_request_patch(request, expanded, known_member=lambda m: uow.members.get(m) is not None)
        if changed:
            uow.approvals.update(request)
            _audit(uow, deps, actor, request, AuditAction.UPDATE_APPROVAL_REQUEST, "updated", comment)
        uow.commit()
    return request


def _expand_reviewers(uow: UnitOfWork, instructions: object) -> object:
    if not isinstance(instructions, list):
        return instructions
    result: list[object] = []
    for instruction in instructions:
        if isinstance(instruction, dict) and instruction.get("kind") == "addReviewers":
            members = instruction.get("notifyMemberIds") or []
            teams = instruction.get("notifyTeamKeys") or []
            if not isinstance(members, list) or not isinstance(teams, list) or not (members or teams):
                raise InvalidRequest("addReviewers needs notifyMemberIds or notifyTeamKeys")
            result.append({**instruction, "notifyMemberIds": resolve_reviewers(uow, members, teams)})
        else:
            result.append(instruction)
    return result
