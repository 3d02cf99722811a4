"""Approval requests: the public surface of the use cases, and reviewing, patching and deleting.

- ``approval_create``: create a change request (flag or segment) or a flag-copy request;
- ``approval_apply``: apply now or at ``executionDate`` (``run_due``), at most once across processes;
- ``approval_queries``: the read side (review status, live conflicts, filtered lists);
- this module: review, patch (``addReviewers``, ``updateDescription``) and delete.

The rules themselves (who may review or apply, review status, the transitions) are in
``flagward.domain.approvals``; the services load what they need and decide in memory.
"""

from __future__ import annotations

from flagward.domain import approvals as domain
from flagward.domain.accounts import Actor
from flagward.domain.approvals import ApprovalRequest, ReviewKind
from flagward.domain.audit import AuditAction
from flagward.domain.errors import InvalidRequest
from flagward.domain.notifications import RequestEvent
from flagward.services._approvals import (
    Scope,
    Seen,
    audit,
    load_request,
    parse_resource_id,
    request_flag,
    resolve_reviewers,
    settings_for,
)
from flagward.services._common import load_environment
from flagward.services.approval_apply import ApprovalApplyFailed, apply, run_due
from flagward.services.approval_create import (
    NewCopyRequest,
    NewRequest,
    create_copy_request,
    create_flag_request,
    create_request,
)
from flagward.services.authz import request_rights
from flagward.services.notify import tell
from flagward.services.ports import Deps, UnitOfWork
from flagward.services.review_teams import teams_of

__all__ = [
    "ApprovalApplyFailed",
    "NewCopyRequest",
    "NewRequest",
    "Scope",
    "Seen",
    "apply",
    "create_copy_request",
    "create_flag_request",
    "create_request",
    "delete",
    "parse_resource_id",
    "patch",
    "review",
    "run_due",
]

_VERBS = {ReviewKind.APPROVE: "approved", ReviewKind.DECLINE: "declined", ReviewKind.COMMENT: "commented on"}
_TOLD = {ReviewKind.APPROVE: RequestEvent.APPROVED, ReviewKind.DECLINE: RequestEvent.DECLINED}


def review(
    deps: Deps,
    *,
    actor: Actor,
    request_id: str,
    kind: object,
    comment: str | None,
    scope: Scope | None = None,
    seen: Seen | None = None,
) -> ApprovalRequest:
    """Approve, decline or comment. Raises NotFound, Forbidden (no review right; one's own request),
    InvalidRequest (an unknown kind; the request is no longer pending). ``seen``: filled with the
    environment and flag read (``Seen``)."""
    try:
        review_kind = ReviewKind(str(kind))
    except ValueError:
        raise InvalidRequest("kind must be one of approve, decline, comment") from None
    with deps.uow() as uow:
        request = load_request(uow, request_id, scope, for_update=True)
        env = load_environment(uow, request.project_key, request.environment_key)
        flag = request_flag(uow, request)  # for the rights and the notification's words: loaded once
        domain.add_review(
            request,
            actor,
            review_kind,
            comment,
            settings=settings_for(env, request.resource_kind),
            rights=request_rights(uow, actor, request, env, flag=flag),
            now=deps.clock.now_ms(),
            teams=teams_of(uow, request, actor.member_id),
        )
        uow.approvals.update(request)
        if seen is not None:
            r = request
            seen.note_others(uow, r.project_key, r.environment_key, r.resource_kind, r.resource_key, besides=r.id)
        if review_kind in _TOLD:
            tell(uow, deps, request, _TOLD[review_kind], actor=actor, comment=comment, flag=flag)
        audit(uow, deps.clock, actor, request, AuditAction.REVIEW_APPROVAL_REQUEST, _VERBS[review_kind], comment)
        uow.commit()
    if seen is not None:
        seen.note(env, flag)
    return request


def delete(deps: Deps, *, actor: Actor, request_id: str, scope: Scope | None = None) -> None:
    """Delete a request that has not been applied (a scheduled one is thereby cancelled). Raises
    NotFound, Forbidden, InvalidRequest."""
    with deps.uow() as uow:
        request = load_request(uow, request_id, scope, for_update=True)
        domain.check_can_delete(request, actor, rights=request_rights(uow, actor, request))
        uow.approvals.delete(request)
        audit(uow, deps.clock, actor, request, AuditAction.DELETE_APPROVAL_REQUEST, "deleted")
        tell(uow, deps, request, RequestEvent.DELETED, actor=actor)
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
    """Semantic patch: ``addReviewers`` (notifyMemberIds and/or notifyTeamKeys) and ``updateDescription``.
    Approvals stand. Raises NotFound, Forbidden, InvalidRequest (nothing is changed)."""
    with deps.uow() as uow:
        request = load_request(uow, request_id, scope, for_update=True)
        domain.check_can_update(request, actor, rights=request_rights(uow, actor, request))
        expanded = _expand_reviewers(uow, instructions)
        before = set(request.notify_member_ids)
        changed = domain.apply_request_patch(request, expanded, known_member=lambda m: uow.members.get(m) is not None)
        if changed:
            uow.approvals.update(request)
            audit(uow, deps.clock, actor, request, AuditAction.UPDATE_APPROVAL_REQUEST, "updated", comment)
            added = [m for m in request.notify_member_ids if m not in before]
            if added:  # addReviewers re-requests a review from the members it adds
                tell(uow, deps, request, RequestEvent.REQUESTED, actor=actor, comment=comment, added_reviewers=added)
        uow.commit()
    return request


def _expand_reviewers(uow: UnitOfWork, instructions: object) -> object:
    """``addReviewers`` with team keys becomes ``addReviewers`` with the teams' member ids."""
    if not isinstance(instructions, list):
        return instructions
    result: list[object] = []
    for instruction in instructions:
        if isinstance(instruction, dict) and instruction.get("kind") == "addReviewers":
            members = instruction.get("notifyMemberIds") or []
            teams = instruction.get("notifyTeamKeys") or []
            if not (members or teams):
                raise InvalidRequest("addReviewers needs notifyMemberIds or notifyTeamKeys")
            result.append({**instruction, "notifyMemberIds": resolve_reviewers(uow, members, teams)})
        else:
            result.append(instruction)
    return result
