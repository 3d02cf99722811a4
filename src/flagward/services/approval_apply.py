"""Applying approval requests: now, or when their ``executionDate`` falls due.

Apply runs the request's instructions through the one write path (``commit_flag_change`` /
``commit_segment_change``) in the same transaction that marks the request completed. The request's row
is locked first and its status checked under the lock, so a request is applied at most once however
many processes try; the losers see it completed and are refused (400).

When the instructions no longer apply, nothing changes but the request: it becomes ``failed``, that is
committed (with its audit entry), and the call raises ``ApprovalApplyFailed`` (400) with the reason,
which reads of the request then show as their one ``conflicts`` entry. A failed request is never
retried; the requester makes a new one (or deletes it).
"""

from __future__ import annotations

from flagward import metrics
from flagward.domain import approvals as domain
from flagward.domain.accounts import Actor, ActorKind, Role
from flagward.domain.approvals import ApprovalRequest, ResourceKind, Status
from flagward.domain.audit import AuditAction
from flagward.domain.errors import ApprovalRequired, DomainError, InvalidRequest, NotFound
from flagward.domain.flags import Flag
from flagward.domain.instructions import apply_flag_instructions
from flagward.domain.notifications import RequestEvent
from flagward.domain.projects import Environment
from flagward.domain.segment_changes import apply_segment_instructions
from flagward.services import scheduled_changes, triggers
from flagward.services._approvals import Scope, Seen, audit, load_request, locked_request_flag, settings_for
from flagward.services._common import environment_in, load_environment, load_flag, run_each, shares_project_locks
from flagward.services.authz import LOAD, Load, request_rights
from flagward.services.flag_changes import change_context, commit_flag_change, deletes
from flagward.services.flags import delete_loaded_flag
from flagward.services.notify import describe, tell
from flagward.services.ports import Deps, UnitOfWork
from flagward.services.segments import commit_segment_change, load_segment, segment_context


class ApprovalApplyFailed(InvalidRequest):
    """Applying found instructions that no longer apply cleanly; the request is now ``failed``."""


@shares_project_locks
def apply(
    deps: Deps,
    *,
    actor: Actor,
    request_id: str,
    comment: str | None = None,
    scope: Scope | None = None,
    seen: Seen | None = None,
) -> ApprovalRequest:
    """Apply an approved request now, or schedule it when its ``executionDate`` is in the future.
    ``seen``: filled with the environment read, and the flag when it was not changed (``Seen``).

    Raises NotFound, Forbidden, InvalidRequest (not approved enough, declined, already applied or
    failed), ApprovalApplyFailed (the instructions no longer apply; the request is left ``failed``)."""
    failure: DomainError | None = None
    executed = False
    with deps.uow() as uow:
        request = load_request(uow, request_id, scope, for_update=True)
        # For the rights, the words of the notification and the change itself: read once, under the locks,
        # and so are the project's environments, for the request's settings and the write's gate.
        flag = locked_request_flag(uow, request)
        environments = uow.environments.find(request.project_key)[0]
        env = environment_in(environments, request.project_key, request.environment_key)
        settings = settings_for(env, request.resource_kind)
        rights = request_rights(uow, actor, request, env, flag=flag)
        domain.check_can_apply(request, actor, settings=settings, rights=rights)
        now = deps.clock.now_ms()
        if request.execution_date is not None and request.execution_date > now:
            domain.mark_scheduled(request, actor, now=now)
            uow.approvals.update(request)
            audit(uow, deps.clock, actor, request, AuditAction.APPLY_APPROVAL_REQUEST, "scheduled", comment)
        else:
            failure = execute(
                uow,
                deps,
                request,
                actor,
                env,
                comment=comment,
                scheduled=False,
                flag=flag,
                flag_locked=True,
                environments=environments,
            )
            executed = True
        uow.commit()
    if seen is not None:
        seen.note(env, None if executed else flag)
    if executed:
        metrics.approval_applies.labels("manual", "failed" if failure else "applied").inc()
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
    flag: Flag | Load | None = LOAD,
    flag_locked: bool = False,
    environments: list[Environment] | None = None,
) -> DomainError | None:
    """Run the request's instructions through the write path and mark it completed, or mark it failed
    and return why. Both outcomes are written in the caller's transaction. ``flag``: the request's flag
    as the caller read it in this transaction, before any change (``_approvals.request_flag``);
    ``flag_locked``: read under the project's and the flag's locks (``_approvals.locked_request_flag``),
    so the change starts from it; ``environments``: the project's, read under that lock."""
    now = deps.clock.now_ms()
    changes = describe(uow, request, flag=flag)  # in words, before they change what they speak of
    locked = flag if flag_locked and isinstance(flag, Flag) else None
    try:
        _write(uow, deps, request, actor, env, comment or request.description, locked=locked, environments=environments)
    except ApprovalRequired as exc:
        # The change also alters what another environment requiring approval serves, and this
        # request's approval covers only its own. Applied by hand, nothing happens (405) and an owner
        # or admin may still apply it; executed on schedule, it fails like a change that no longer applies.
        if not scheduled:
            raise
        return _fail(uow, deps, request, actor, now, exc, scheduled=scheduled, changes=changes)
    except (InvalidRequest, NotFound) as exc:
        return _fail(uow, deps, request, actor, now, exc, scheduled=scheduled, changes=changes)
    domain.mark_applied(request, actor, now=now, scheduled=scheduled)
    uow.approvals.update(request)
    audit(uow, deps.clock, actor, request, AuditAction.APPLY_APPROVAL_REQUEST, "applied", comment)
    event = RequestEvent.EXECUTED if scheduled else RequestEvent.APPLIED
    tell(uow, deps, request, event, actor=actor, comment=comment, scheduled=scheduled, changes=changes)
    return None


def _fail(
    uow: UnitOfWork,
    deps: Deps,
    request: ApprovalRequest,
    actor: Actor,
    now: int,
    exc: DomainError,
    *,
    scheduled: bool,
    changes: list[str],
) -> DomainError:
    domain.mark_failed(request, actor, now=now, reason=exc.message, scheduled=scheduled)
    uow.approvals.update(request)
    audit(uow, deps.clock, actor, request, AuditAction.APPLY_APPROVAL_REQUEST, "failed to apply", exc.message)
    tell(uow, deps, request, RequestEvent.FAILED, actor=actor, scheduled=scheduled, changes=changes)
    return exc


def _write(
    uow: UnitOfWork,
    deps: Deps,
    request: ApprovalRequest,
    actor: Actor,
    env: Environment,
    comment: str,
    *,
    locked: Flag | None = None,
    environments: list[Environment] | None = None,
) -> None:
    """The change itself; ``approval_request_id`` satisfies the approval gate and marks the audit entry.
    ``locked``: the flag, already read under its project's and its own lock in this transaction, and
    ``environments`` the project's, read under that lock."""
    if request.resource_kind is ResourceKind.FLAG and triggers.is_trigger_request(request.instructions):
        triggers.apply_request(uow, deps, actor, request, comment)
        return
    if request.resource_kind is ResourceKind.FLAG and scheduled_changes.is_schedule_request(request.instructions):
        scheduled_changes.apply_request(uow, deps, actor, request, comment)
        return
    if request.resource_kind is ResourceKind.FLAG:
        flag = locked or load_flag(uow, request.project_key, request.resource_key, for_update=True)
        approved = request.environment_key
        if deletes(request.instructions):
            delete_loaded_flag(
                uow, deps.clock, actor, flag, approval_request_id=request.id, approved_environment=approved
            )
            return
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
            comment=comment,
            approval_request_id=request.id,
            approved_environment=approved,
            environments=environments if locked is not None else None,
        )
        return
    segment = load_segment(uow, request.project_key, request.environment_key, request.resource_key, for_update=True)
    segment_change = apply_segment_instructions(
        segment, request.instructions, context=segment_context(uow, deps.clock, segment)
    )
    commit_segment_change(
        uow,
        deps.clock,
        actor,
        env,
        before=segment,
        change=segment_change,
        comment=comment,
        approval_request_id=request.id,
    )


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
    """Execute scheduled requests whose time has come, each in its own transaction and each exactly once
    across processes (its row is locked and its status re-checked under the lock). A request whose
    transaction loses a race is left for the next run. Returns the ids executed here."""
    # Only ids: each is locked and re-checked in a transaction of its own. A read transaction, so the
    # scheduler's polls never queue for SQLite's writer lock.
    with deps.uow(write=False) as uow:
        due = uow.approvals.due(deps.clock.now_ms(), limit)
    return run_each(due, lambda request_id: _run_one(deps, request_id))


def _run_one(deps: Deps, request_id: str) -> bool:
    with deps.uow() as uow:
        request = uow.approvals.get(request_id, for_update=True)
        if request is None or request.status is not Status.SCHEDULED:
            return False  # another process got there first, or it was cancelled
        env = load_environment(uow, request.project_key, request.environment_key)
        failure = execute(uow, deps, request, scheduled_actor(request), env, comment=None, scheduled=True)
        uow.commit()
    metrics.approval_applies.labels("scheduled", "failed" if failure else "applied").inc()
    if request.execution_date is not None:
        metrics.scheduled_lag.observe(max(deps.clock.now_ms() - request.execution_date, 0) / 1000)
    return True
