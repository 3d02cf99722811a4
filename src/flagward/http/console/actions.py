"""What the viewer may do on a request page, each action with the domain's reason when it is refused.

The console shows an action the viewer's role can never take as absent, and an action refused by the
request's state (or by being its requester) as disabled with its reason. Both come from the domain's
``*_refusal`` functions, the same ones the services raise from, so a page never decides a rule itself.
"""

from __future__ import annotations

from dataclasses import dataclass

from flagward.domain.accounts import Actor
from flagward.domain.approvals import (
    ApprovalRequest,
    Refusal,
    ReviewKind,
    Rights,
    Status,
    apply_refusal,
    delete_refusal,
    review_refusal,
)
from flagward.domain.errors import Forbidden
from flagward.domain.projects import ApprovalSettings


@dataclass(frozen=True)
class Action:
    name: str
    shown: bool
    reason: str | None = None  # why it is disabled; None: enabled

    @property
    def enabled(self) -> bool:
        return self.shown and self.reason is None


def _action(name: str, refusal: Refusal | None, *, role_refusal: bool) -> Action:
    """A refusal for the viewer's role hides the action; any other refusal disables it."""
    if refusal is None:
        return Action(name, shown=True)
    if refusal.error is Forbidden and role_refusal:
        return Action(name, shown=False, reason=refusal.short)
    return Action(name, shown=True, reason=refusal.short)


@dataclass(frozen=True)
class RequestActions:
    approve: Action
    decline: Action
    comment: Action
    apply: Action
    delete: Action

    @property
    def any_write(self) -> bool:
        return any(a.shown for a in (self.approve, self.decline, self.comment, self.apply, self.delete))


def request_actions(
    request: ApprovalRequest, actor: Actor, settings: ApprovalSettings, resource: str | None = None
) -> RequestActions:
    """What the actor may do with the request, judged on ``resource`` (its flag or segment with their
    tags, as the service doors judge it; default: ``resource_id``, without tags)."""
    rights = Rights.of(actor, resource or request.resource_id)
    own = request.is_requestor(actor)

    def review(kind: ReviewKind) -> Action:
        refusal = review_refusal(request, actor, kind, settings=settings, rights=rights)
        # Without the review right the action is hidden; one's own request shows it disabled with why.
        return _action(kind.value, refusal, role_refusal=not (own and rights.review))

    apply = apply_refusal(request, actor, settings=settings, rights=rights)
    delete = delete_refusal(request, actor, rights=rights)
    return RequestActions(
        approve=review(ReviewKind.APPROVE),
        decline=review(ReviewKind.DECLINE),
        comment=review(ReviewKind.COMMENT),
        apply=_action("apply", apply, role_refusal=True),
        delete=_action("delete", delete, role_refusal=True)
        if request.status is not Status.COMPLETED
        else Action("delete", shown=False),
    )
