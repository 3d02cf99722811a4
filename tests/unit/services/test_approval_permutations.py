"""Who may approve, decline, comment on and apply an approval request: every combination of the
environment's approval settings, the actor's role, whether the actor made the request, and the action,
against an oracle written from the rules (not from the code):

- approve/decline needs the review right (writer and up); one's own request only with
  ``canReviewOwnRequest``;
- comment needs the review right, or being the requester;
- apply needs the apply right (writer and up) or being the requester; then enough approvals
  (``minNumApprovals``) and no standing decline, unless ``canApplyDeclinedChanges``;
- a requester whose role dropped below writer has lost the right to create requests, and with it the
  requester's privileges (so, with the built-in roles, the rights decide).

Refusals: 403 (Forbidden) for the actor, 400 (InvalidRequest) for the request's state, checked in that
order. An allowed action is checked by its effect; a refused one must change nothing.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, replace

import pytest

from flagward.domain.accounts import Actor, ActorKind, Role
from flagward.domain.approvals import ApprovalRequest, ReviewKind, ReviewStatus, Status
from flagward.domain.errors import Forbidden, InvalidRequest
from flagward.services import approval_queries as queries
from flagward.services import approvals
from tests.unit.services.approvals_world import Shop
from tests.unit.services.conftest import World

ROLES = ("no_access", "reader", "writer", "admin", "owner", "service-reader", "service-writer")
ACTIONS = ("approve", "decline", "comment", "apply-approved", "apply-declined", "apply-short")
OK, FORBIDDEN, INVALID = "ok", "403", "400"


@dataclass(frozen=True)
class Settings:
    min_num_approvals: int
    can_review_own_request: bool
    can_apply_declined_changes: bool

    def __str__(self) -> str:
        own = "own" if self.can_review_own_request else "not-own"
        declined = "declined-ok" if self.can_apply_declined_changes else "declined-no"
        return f"min{self.min_num_approvals}-{own}-{declined}"


SETTINGS = [Settings(m, o, d) for m, o, d in itertools.product((1, 2), (False, True), (False, True))]


def expected(settings: Settings, role: str, own: bool, action: str) -> str:
    """The oracle."""
    rights = role in ("writer", "admin", "owner", "service-writer")
    requester = own and rights
    if action in ("approve", "decline"):
        if not rights or (own and not settings.can_review_own_request):
            return FORBIDDEN
        return OK
    if action == "comment":
        return OK if rights or requester else FORBIDDEN
    if not (rights or requester):
        return FORBIDDEN
    if action == "apply-short" or (action == "apply-declined" and not settings.can_apply_declined_changes):
        return INVALID
    return OK


def _actor(shop: Shop, role: str) -> Actor:
    if role.startswith("service-"):
        return shop.service_token(Role(role.removeprefix("service-")))
    return shop.member(Role(role))


def _arrange(shop: Shop, actor: Actor, own: bool, action: str, settings: Settings) -> ApprovalRequest:
    """A request in the state the action needs, made by the actor (acting as a writer then) or not."""
    requester = replace(actor, role=Role.WRITER) if own else shop.member()
    request = shop.request(requester, {"kind": "turnFlagOn"})
    approvals_before = settings.min_num_approvals - (1 if action in ("approve", "apply-short") else 0)
    if action in ("decline", "comment"):
        approvals_before = settings.min_num_approvals - 1
    request = shop.approve(request, *(shop.member() for _ in range(approvals_before)))
    if action == "apply-declined":
        request = approvals.review(shop.deps, actor=shop.member(), request_id=request.id, kind="decline", comment=None)
    return request


def _act(shop: Shop, actor: Actor, request: ApprovalRequest, action: str) -> ApprovalRequest:
    if action.startswith("apply"):
        return approvals.apply(shop.deps, actor=actor, request_id=request.id)
    return approvals.review(shop.deps, actor=actor, request_id=request.id, kind=action, comment=f"{action} it")


def _check_effect(shop: Shop, actor: Actor, request: ApprovalRequest, action: str) -> None:
    view = queries.get_request(shop.deps, actor=shop.admin, request_id=request.id)
    if action.startswith("apply"):
        assert view.request.status is Status.COMPLETED
        assert shop.config()["on"] is True
        assert view.request.applied_by_member_id == actor.member_id
        assert view.request.applied_by_service_token_id == (actor.token_id if actor.member_id is None else None)
        return
    last = view.request.reviews[-1]
    assert (last.kind, last.comment) == (ReviewKind(action), f"{action} it")
    assert (last.member_id, last.service_token_id) == (
        actor.member_id,
        actor.token_id if actor.kind is ActorKind.SERVICE_TOKEN else None,
    )
    status = {"approve": ReviewStatus.APPROVED, "decline": ReviewStatus.DECLINED, "comment": ReviewStatus.PENDING}
    assert view.review_status is status[action]


@pytest.mark.parametrize("action", ACTIONS)
@pytest.mark.parametrize("own", [False, True], ids=["other", "own"])
@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("settings", SETTINGS, ids=str)
def test_who_may_do_what(settings: Settings, role: str, own: bool, action: str) -> None:
    shop = Shop(
        World(),
        required=True,
        min_num_approvals=settings.min_num_approvals,
        can_review_own_request=settings.can_review_own_request,
        can_apply_declined_changes=settings.can_apply_declined_changes,
    )
    actor = _actor(shop, role)
    request = _arrange(shop, actor, own, action, settings)
    outcome = expected(settings, role, own, action)
    if outcome == OK:
        _act(shop, actor, request, action)
        _check_effect(shop, actor, request, action)
        return
    before, flag_before, audit_before = shop.stored(request.id), shop.flag(), len(shop.audit())
    with pytest.raises(Forbidden if outcome == FORBIDDEN else InvalidRequest):
        _act(shop, actor, request, action)
    assert shop.stored(request.id) == before
    assert shop.flag() == flag_before and len(shop.audit()) == audit_before


def test_the_oracle_allows_and_refuses_something_in_every_dimension() -> None:
    """Guards the table itself: each action, role and setting changes some outcome."""
    outcomes = {
        (s, r, o, a): expected(s, r, o, a) for s in SETTINGS for r in ROLES for o in (False, True) for a in ACTIONS
    }
    assert set(outcomes.values()) == {OK, FORBIDDEN, INVALID}
    # By hand: only the 4 roles with rights succeed; per setting each does 4 + d things on another's request
    # (approve, decline, comment, apply; apply-declined when d) and 2 + 2o + d on its own; summed over
    # min in {1, 2} and o, d in {0, 1}: 2 * 4 * (4 * 6 + 2 * 2 + 2 * 2) = 256.
    assert sum(1 for v in outcomes.values() if v == OK) == 256
    own_refused = [k for k, v in outcomes.items() if k[2] and k[1] == "writer" and k[3] == "approve" and v != OK]
    assert {k[0].can_review_own_request for k in own_refused} == {False}
