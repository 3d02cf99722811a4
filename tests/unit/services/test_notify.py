"""Who is told what about approval requests (on fakes): in-app notifications for every recipient, an
e-mail outbox message for those who get e-mail, nothing for the actor, nothing when the change rolls back."""

from __future__ import annotations

from dataclasses import replace

import pytest

from flagward.domain.accounts import Actor, Role, Team
from flagward.domain.approvals import ApprovalRequest
from flagward.domain.errors import InvalidRequest
from flagward.domain.outbox import MessageKind
from flagward.services import approvals
from flagward.services.approvals import ApprovalApplyFailed
from flagward.services.ports import NotificationOptions
from tests.unit.services.approvals_world import Shop, email_rule
from tests.unit.services.conftest import World

ON = {"kind": "turnFlagOn"}


@pytest.fixture
def shop(world: World) -> Shop:
    shop = Shop(world, required=True, min_num_approvals=1)
    shop.deps = replace(shop.deps, notify=NotificationOptions(email=True, public_url="https://flags.example.com"))
    return shop


def told(shop: Shop) -> list[tuple[str, str]]:
    """(member id, event) of every in-app notification so far, then forgets them."""
    store = shop.world.uow.store
    result = [(n.member_id, n.event.value) for n in store.notifications]
    store.notifications.clear()
    return result


def mailed(shop: Shop) -> list[dict[str, object]]:
    store = shop.world.uow.store
    result = [m.payload for m in store.outbox if m.kind == MessageKind.EMAIL]
    store.outbox.clear()
    return result


def mid(actor: Actor) -> str:
    assert actor.member_id is not None
    return actor.member_id


def _request(shop: Shop, requester: Actor, *reviewers: Actor, **fields: object) -> ApprovalRequest:
    request = shop.request(requester, ON, notify_member_ids=[mid(r) for r in reviewers], **fields)
    told(shop), mailed(shop)
    return request


def test_a_new_request_tells_the_named_reviewers_and_the_teams_members_but_not_the_requester(shop: Shop) -> None:
    requester, alice, bob, carol = shop.member(), shop.member(), shop.member(), shop.member()
    team = Team(id="t" * 24, key="release", name="Release", creation_date=0, last_modified=0)
    team.member_ids = [mid(bob), mid(carol), mid(requester)]
    shop.world.uow.store.teams["release"] = team
    shop.request(requester, ON, notify_member_ids=[mid(alice)], notify_team_keys=["release"], description="Go live")
    assert told(shop) == [(mid(alice), "requested"), (mid(bob), "requested"), (mid(carol), "requested")]
    mails = mailed(shop)
    assert [m["to"] for m in mails] == [[alice.member_email], [bob.member_email], [carol.member_email]]
    assert "requested your review: Go live" in str(mails[0]["subject"])
    assert "Open the request: https://flags.example.com/approvals/" in str(mails[0]["text"])


def test_reviews_tell_the_requester_approvals_and_declines_but_not_comments(shop: Shop) -> None:
    requester, alice = shop.member(), shop.member()
    request = _request(shop, requester, alice)
    for kind in ("comment", "decline", "approve"):
        approvals.review(shop.deps, actor=alice, request_id=request.id, kind=kind, comment="hm")
    assert told(shop) == [(mid(requester), "declined"), (mid(requester), "approved")]
    assert all(m["to"] == [requester.member_email] for m in mailed(shop))


def test_applying_tells_the_requester_and_the_reviewers_but_not_whoever_applied(shop: Shop) -> None:
    requester, alice, bob, applier = shop.member(), shop.member(), shop.member(), shop.member()
    request = _request(shop, requester, alice, bob)
    shop.approve(request, alice)
    told(shop)
    approvals.apply(shop.deps, actor=applier, request_id=request.id)
    assert told(shop) == [(mid(requester), "applied"), (mid(alice), "applied"), (mid(bob), "applied")]
    request = _request(shop, requester, alice)
    shop.approve(request, alice)
    told(shop)
    approvals.apply(shop.deps, actor=requester, request_id=request.id)  # one's own: the reviewers only
    assert told(shop) == [(mid(alice), "applied")]


def test_deleting_tells_the_reviewers(shop: Shop) -> None:
    requester, alice = shop.member(), shop.member()
    request = _request(shop, requester, alice)
    approvals.delete(shop.deps, actor=requester, request_id=request.id)
    assert told(shop) == [(mid(alice), "deleted")]


def test_a_failed_apply_tells_the_requester(shop: Shop) -> None:
    requester, alice, applier = shop.member(), shop.member(), shop.member()
    shop.change(shop.admin, email_rule(shop.variation_id(0)), env="production")
    rule_id = shop.rule_id()
    describe = {"kind": "updateRuleDescription", "ruleId": rule_id, "description": "VIPs"}
    request = shop.request(requester, describe, notify_member_ids=[mid(alice)])
    shop.approve(request, alice)
    told(shop)
    shop.change(shop.admin, {"kind": "removeRule", "ruleId": rule_id}, env="production", ignore_conflicts=True)
    with pytest.raises(ApprovalApplyFailed):
        approvals.apply(shop.deps, actor=applier, request_id=request.id)
    assert told(shop) == [(mid(requester), "failed")]
    assert "Why it failed:" in str(mailed(shop)[-1]["text"])


def test_a_scheduled_execution_tells_the_requester_even_when_they_scheduled_it(shop: Shop) -> None:
    requester, alice = shop.member(), shop.member()
    request = _request(shop, requester, alice, execution_date=shop.world.clock.now + 1000)
    shop.approve(request, alice)
    told(shop)
    approvals.apply(shop.deps, actor=requester, request_id=request.id)
    assert told(shop) == []  # scheduled, not yet applied
    shop.world.clock.advance(2000)
    assert approvals.run_due(shop.deps) == [request.id]
    assert told(shop) == [(mid(requester), "executed")]


def test_add_reviewers_re_requests_a_review_from_the_added_members_only(shop: Shop) -> None:
    requester, alice, bob = shop.member(), shop.member(), shop.member()
    request = _request(shop, requester, alice)
    instruction = {"kind": "addReviewers", "notifyMemberIds": [mid(alice), mid(bob)]}
    approvals.patch(shop.deps, actor=requester, request_id=request.id, instructions=[instruction])
    assert told(shop) == [(mid(bob), "requested")]


def test_members_who_turned_email_off_get_only_the_in_app_notification(shop: Shop) -> None:
    requester, alice, bob = shop.member(), shop.member(), shop.member()
    shop.world.uow.store.members[mid(bob)].email_notifications = False
    shop.request(requester, ON, notify_member_ids=[mid(alice), mid(bob)])
    assert [m for m, _ in told(shop)] == [mid(alice), mid(bob)]
    assert [m["to"] for m in mailed(shop)] == [[alice.member_email]]


def test_without_smtp_nothing_is_mailed_and_service_tokens_are_never_told(shop: Shop) -> None:
    shop.deps = replace(shop.deps, notify=NotificationOptions(email=False))
    alice = shop.member()
    request = shop.request(shop.service_token(), ON, notify_member_ids=[mid(alice)])
    assert told(shop) == [(mid(alice), "requested")]
    assert mailed(shop) == []
    approvals.review(shop.deps, actor=alice, request_id=request.id, kind="approve", comment=None)
    assert told(shop) == []  # the requester is a token: nobody to tell


def test_a_request_that_is_refused_tells_nobody(shop: Shop) -> None:
    requester, alice = shop.member(), shop.member()
    with pytest.raises(InvalidRequest):
        shop.request(requester, {"kind": "noSuchInstruction"}, notify_member_ids=[mid(alice)])
    assert told(shop) == [] and mailed(shop) == []
    shop.deps = replace(shop.deps, notify=NotificationOptions(email=True))
    with pytest.raises(InvalidRequest):
        shop.request(requester, ON, notify_member_ids=[mid(alice)], notify_team_keys=["ghosts"])
    assert told(shop) == [] and mailed(shop) == []


def test_the_email_reads_what_happened(shop: Shop) -> None:
    requester, alice = shop.member(), shop.member()
    _request(shop, requester, alice)
    shop.world.uow.store.members[mid(alice)].first_name = "Alice"
    request = shop.request(requester, ON, notify_member_ids=[mid(alice)], comment="<please>")
    (notification,) = shop.world.uow.store.notifications
    assert notification.link == f"/approvals/{request.id}"
    told(shop)
    (mail,) = mailed(shop)
    assert "Flag 'checkout' in environment 'production' of project 'shop'." in str(mail["text"])
    assert "Comment: <please>" in str(mail["text"])
    assert "- Turn the flag on" in str(mail["text"]) and "<li>Turn the flag on</li>" in str(mail["html"])
    assert "&lt;please&gt;" in str(mail["html"]) and "<please>" not in str(mail["html"])
    # The links go to the request's console page; the plain text also gives its REST URL.
    assert f'href="https://flags.example.com/approvals/{request.id}"' in str(mail["html"])
    assert f"Open the request: https://flags.example.com/approvals/{request.id}\n" in str(mail["text"])
    assert f"In the REST API: https://flags.example.com/api/v2/approval-requests/{request.id}" in str(mail["text"])
    approvals.review(shop.deps, actor=alice, request_id=request.id, kind="approve", comment=None)
    (mail,) = mailed(shop)
    assert str(mail["subject"]).startswith("[flagward] Alice approved your request")


def test_roles_do_not_matter_to_who_is_told(shop: Shop) -> None:
    reader = shop.member(Role.READER)
    shop.request(shop.member(), ON, notify_member_ids=[mid(reader)])
    assert told(shop) == [(mid(reader), "requested")]
