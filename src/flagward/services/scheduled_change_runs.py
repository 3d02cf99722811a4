"""Executing scheduled changes at their date (``flagward.services.scheduled_changes`` has the rules):
exactly once across processes, through the one write path, with the change's own approval where the
environment requires one; a change whose instructions fail is recorded as failed with the reason and an
audit entry, and stays readable."""

from __future__ import annotations

from flagward.domain.accounts import Actor, ActorKind, Role
from flagward.domain.audit import flag_spec
from flagward.domain.errors import ApprovalRequired, InvalidRequest, NotFound
from flagward.domain.instructions import apply_flag_instructions
from flagward.domain.scheduled_changes import ScheduledChange, ScheduleStatus
from flagward.services._common import load_flag, record_audit, run_each
from flagward.services.flag_changes import change_context, commit_flag_change
from flagward.services.ports import Deps, UnitOfWork
from flagward.services.scheduled_changes import ACTION


def _scheduler(change: ScheduledChange) -> Actor:
    """The server executes a scheduled change on behalf of its maintainer; it bypasses no approval."""
    return Actor(
        kind=ActorKind.SYSTEM,
        role=Role.OWNER,
        member_id=change.maintainer_id,
        token_id=change.maintainer_token_id,
        token_name="scheduler",
    )


def run_due(deps: Deps, *, limit: int = 20) -> list[str]:
    """Execute pending scheduled changes whose time has come, each in its own transaction and exactly
    once across processes. Returns the ids executed (or failed) here."""
    # Only ids: each is locked and re-checked in a transaction of its own. A read transaction, so the
    # scheduler's polls never queue for SQLite's writer lock.
    with deps.uow(write=False) as uow:
        due = uow.scheduled_changes.due(deps.clock.now_ms(), limit)
    return run_each(due, lambda change_id: _run_one(deps, change_id))


def _run_one(deps: Deps, change_id: str) -> bool:
    with deps.uow() as uow:
        change = uow.scheduled_changes.get(change_id, for_update=True)
        if change is None or not change.is_pending:
            return False  # another process got there first, or it was deleted
        actor = _scheduler(change)
        try:
            _execute(uow, deps, actor, change)
        except (InvalidRequest, NotFound, ApprovalRequired) as exc:
            _fail(uow, deps, actor, change, exc.message)
        uow.scheduled_changes.update(change)
        uow.commit()
    return True


def _execute(uow: UnitOfWork, deps: Deps, actor: Actor, change: ScheduledChange) -> None:
    flag = load_flag(uow, change.project_key, change.flag_key, for_update=True)
    result = apply_flag_instructions(
        flag,
        change.instructions,
        environment_key=change.environment_key,
        context=change_context(uow, deps.clock, flag),
    )
    commit_flag_change(
        uow,
        deps.clock,
        actor,
        before=flag,
        change=result,
        comment=change.comment or f"Scheduled change {change.id}",
        approval_request_id=change.approval_request_id,
        approved_environment=change.environment_key if change.approved else None,
        extra_actions={change.environment_key: [ACTION]},
        delta={"scheduledChangeId": change.id, "instructions": change.instructions},
    )
    change.status = ScheduleStatus.COMPLETED
    change.executed_date = deps.clock.now_ms()
    change.version += 1


def _fail(uow: UnitOfWork, deps: Deps, actor: Actor, change: ScheduledChange, reason: str) -> None:
    change.status = ScheduleStatus.FAILED
    change.failure_reason = reason
    change.executed_date = deps.clock.now_ms()
    change.version += 1
    flag = uow.flags.get(change.project_key, change.flag_key)
    record_audit(
        uow,
        deps.clock,
        actor,
        kind="flag",
        name=flag.name if flag else change.flag_key,
        actions=[ACTION],
        resource=flag_spec(change.project_key, change.flag_key, change.environment_key),
        description=f"Scheduled change {change.id} of flag {change.flag_key} in {change.environment_key} "
        f"failed: {reason}",
        title_verb="failed to execute a scheduled change of",
        comment=reason,
        current={"_id": change.id, "executionDate": change.execution_date, "instructions": change.instructions},
        approval_request_id=change.approval_request_id,
    )
