"""Required reviewer teams through the services (on fakes): the settings are checked against the teams,
a new request snapshots them and tells the teams' members (once, never the requester), reviews count
for the teams their authors belonged to then, apply waits for every team, and a required team cannot be
deleted."""

from __future__ import annotations

from dataclasses import replace

import pytest

from flagward.domain.accounts import Actor, Team
from flagward.domain.approvals import ApprovalRequest, ReviewStatus, Status
from flagward.domain.errors import InvalidRequest
from flagward.domain.outbox import MessageKind
from flagward.domain.review_policy import TeamRequirement
from flagward.services import approval_queries as queries
from flagward.services import approval_settings, approvals, environments, teams
from flagward.services.ports import NotificationOptions
from tests.unit.services.approvals_world import PRODUCTION, PROJECT, Shop
from tests.unit.services.conftest import World

ON = {"kind": "turnFlagOn"}


@pytest.fixture
def shop(world: World) -> Shop:
    shop = Shop(world, required=True, min_num_approvals=1)
    shop.deps = replace(shop.deps, notify=NotificationOptions(email=True, public_url="https://flags.example.com"))
    return shop


def mid(actor: Actor) -> str:
    assert actor.member_id is not None
    return actor.member_id


def team(shop: Shop, key: str, *members: Actor) -> Team:
    found = Team(id=key.ljust(24, "0"), key=key, name=key.title(), creation_date=0, last_modified=0)
    found.member_ids = [mid(m) for m in members]
    shop.world.uow.store.teams[key] = found
    return found


def require_teams(shop: Shop, *required: TeamRequirement, segment: bool = False) -> None:
    shop.settings(segment=segment, required_reviewers=tuple(required))


def status(shop: Shop, request: ApprovalRequest) -> ReviewStatus:
    return queries.get_request(shop.deps, actor=shop.admin, request_id=request.id).review_status


def test_a_request_waits_for_each_team_and_counts_a_member_of_two_teams_for_both(shop: Shop) -> None:
    requester, payer, both, outsider = shop.member(), shop.member(), shop.member(), shop.member()
    team(shop, "pay", requester, payer, both)
    team(shop, "sre", both)
    require_teams(shop, TeamRequirement("pay", 2), TeamRequirement("sre", 1))
    request = shop.request(requester, ON)
    assert request.required_reviewers == (TeamRequirement("pay", 2), TeamRequirement("sre", 1))

    shop.approve(request, outsider)  # the overall minimum (1) is met, the teams' are not
    assert status(shop, request) is ReviewStatus.PENDING
    with pytest.raises(InvalidRequest, match="2 approvals from team 'pay' \\(it has 0\\)"):
        approvals.apply(shop.deps, actor=shop.admin, request_id=request.id)
    shop.approve(request, both)
    assert [(t.team_key, t.approvals) for t in shop.stored(request.id).team_progress()] == [("pay", 1), ("sre", 1)]
    with pytest.raises(InvalidRequest, match="team 'pay'"):
        approvals.apply(shop.deps, actor=shop.admin, request_id=request.id)
    assert shop.config()["on"] is False
    shop.approve(request, payer)
    assert status(shop, request) is ReviewStatus.APPROVED
    assert approvals.apply(shop.deps, actor=requester, request_id=request.id).status is Status.COMPLETED
    assert shop.config()["on"] is True


def test_the_requester_never_counts_for_a_team_even_when_they_may_review_their_own(shop: Shop) -> None:
    shop.settings(can_review_own_request=True)
    requester, payer = shop.member(), shop.member()
    team(shop, "pay", requester, payer)
    require_teams(shop, TeamRequirement("pay", 1))
    request = shop.approve(shop.request(requester, ON), requester)
    assert request.approvals() == 1 and status(shop, request) is ReviewStatus.PENDING
    assert status(shop, shop.approve(request, payer)) is ReviewStatus.APPROVED


def test_membership_is_the_reviewers_when_they_reviewed(shop: Shop) -> None:
    requester, payer, newcomer = shop.member(), shop.member(), shop.member()
    team(shop, "pay", payer)
    require_teams(shop, TeamRequirement("pay", 1))
    request = shop.request(requester, ON)
    shop.approve(request, newcomer)
    shop.world.uow.store.teams["pay"].member_ids.append(
        mid(newcomer)
    )  # joins after approving: that approval was not a team member's
    assert status(shop, request) is ReviewStatus.PENDING
    shop.approve(request, newcomer)  # approving again, as a member now
    assert status(shop, request) is ReviewStatus.APPROVED
    shop.world.uow.store.teams["pay"].member_ids.remove(mid(newcomer))  # leaving later does not withdraw it
    assert status(shop, request) is ReviewStatus.APPROVED


def test_requirements_are_snapshotted_when_the_request_is_made(shop: Shop) -> None:
    requester, payer, other = shop.member(), shop.member(), shop.member()
    team(shop, "pay", payer)
    require_teams(shop, TeamRequirement("pay", 1))
    before = shop.approve(shop.request(requester, ON), other)
    require_teams(shop)  # loosened: the pending request is not silently approved
    assert status(shop, before) is ReviewStatus.PENDING
    after = shop.approve(shop.request(requester, {"kind": "turnFlagOff"}, description="Off again"), other)
    assert after.required_reviewers == () and status(shop, after) is ReviewStatus.APPROVED
    require_teams(shop, TeamRequirement("pay", 1))  # tightened: the request made meanwhile keeps its rules
    assert status(shop, after) is ReviewStatus.APPROVED


def test_segment_requests_obey_the_segment_settings_teams(shop: Shop) -> None:
    shop.settings(segment=True, required=True)
    requester, payer = shop.member(), shop.member()
    team(shop, "pay", payer)
    require_teams(shop, TeamRequirement("pay", 1), segment=True)
    request = approvals.create_request(
        shop.deps,
        actor=requester,
        resource_id=f"proj/{PROJECT}:env/{PRODUCTION}:segment/beta",
        new=approvals.NewRequest(description="Add ann", instructions=[{"kind": "addIncludedUsers", "values": ["a"]}]),
    )
    assert request.required_reviewers == (TeamRequirement("pay", 1),)
    assert request.notify_member_ids == [mid(payer)]


def told(shop: Shop) -> list[tuple[str, str]]:
    return [(n.member_id, n.event.value) for n in shop.world.uow.store.notifications]


def test_required_teams_members_are_told_once_after_the_named_reviewers_never_the_requester(shop: Shop) -> None:
    requester, alice, bob, carol = shop.member(), shop.member(), shop.member(), shop.member()
    team(shop, "pay", requester, bob, alice)
    team(shop, "sre", carol, bob)
    require_teams(shop, TeamRequirement("pay", 1), TeamRequirement("sre", 1))
    request = shop.request(requester, ON, notify_member_ids=[mid(alice)], description="Go live")
    assert request.notify_member_ids == [mid(alice), mid(bob), mid(carol)]
    assert told(shop) == [(mid(alice), "requested"), (mid(bob), "requested"), (mid(carol), "requested")]
    mails = [m.payload for m in shop.world.uow.store.outbox if m.kind == MessageKind.EMAIL]
    assert [m["to"] for m in mails] == [[alice.member_email], [bob.member_email], [carol.member_email]]
    assert "Required approvals: 1 from team 'pay', 1 from team 'sre'." in str(mails[1]["text"])


def test_settings_name_existing_teams_with_enough_members(shop: Shop) -> None:
    payer = shop.member()
    team(shop, "pay", payer)

    def patch(value: object) -> object:
        op = {"op": "replace", "path": "/approvalSettings/requiredReviewers", "value": value}
        return environments.patch_environment(
            shop.deps, actor=shop.admin, project_key=PROJECT, key=PRODUCTION, patch=[op]
        ).approval_settings.required_reviewers

    with pytest.raises(InvalidRequest, match="unknown team 'nope'"):
        patch([{"teamKey": "nope", "minApprovals": 1}])
    with pytest.raises(InvalidRequest, match="team 'pay' has 1 member\\(s\\), fewer than the 2 approval"):
        patch([{"teamKey": "pay", "minApprovals": 2}])
    assert patch([{"teamKey": "pay"}]) == (TeamRequirement("pay", 1),)
    shop.world.uow.store.teams["pay"].member_ids.clear()  # shrank since: other settings may still be saved
    op = {"op": "replace", "path": "/approvalSettings/minNumApprovals", "value": 2}
    environments.patch_environment(shop.deps, actor=shop.admin, project_key=PROJECT, key=PRODUCTION, patch=[op])
    body = {"environmentKey": PRODUCTION, "resourceKind": "segment", "requiredReviewers": [{"teamKey": "nope"}]}
    with pytest.raises(InvalidRequest, match="unknown team 'nope'"):
        approval_settings.patch_settings(shop.deps, actor=shop.admin, project_key=PROJECT, body=body)


def test_a_required_team_cannot_be_deleted(shop: Shop) -> None:
    team(shop, "pay", shop.member())
    require_teams(shop, TeamRequirement("pay", 1), segment=True)
    with pytest.raises(InvalidRequest, match=f"required reviewer team in {PROJECT}/{PRODUCTION} \\(segment\\)"):
        teams.delete_team(shop.deps, actor=shop.admin, key="pay")
    require_teams(shop, segment=True)
    teams.delete_team(shop.deps, actor=shop.admin, key="pay")
    assert "pay" not in shop.world.uow.store.teams
