"""Required reviewer teams over HTTP with the official client, on both stores: the environment's
``approvalSettings.requiredReviewers`` (flagward's own) is set by JSON patch and by the beta settings
API, validated with LaunchDarkly's error shape, and served in a form the client still reads; a request
shows each team's progress in ``requiredReviewers``, stays ``pending`` and cannot be applied until every
team has its approvals; the teams' members are notified; a required team cannot be deleted."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import launchdarkly_api
import pytest
from launchdarkly_api.api.environments_api import EnvironmentsApi
from launchdarkly_api.api.teams_api import TeamsApi

from tests.support.accounts import unique
from tests.support.approvals import BETA, PRODUCTION, Arena, Person, conformance_problems, refused
from tests.support.server import ServerProcess

FLAG = "checkout"


@pytest.fixture
def arena(server: ServerProcess) -> Iterator[Arena]:
    arena = Arena(server.url, server.admin_token, project=unique("teams"))
    arena.create_project(required=True, minNumApprovals=1)
    arena.create_flag(FLAG)
    yield arena
    arena.close()
    problems = conformance_problems(arena.recorder)
    assert problems == [], "\n".join(problems)


def _team(arena: Arena, *members: Person) -> str:
    key = unique("team")
    body = launchdarkly_api.TeamPostInput(key=key, name=f"Team {key}", member_ids=[m.id for m in members])
    TeamsApi(arena.admin).post_team(body)
    return key


def _require(arena: Arena, *teams: tuple[str, int]) -> launchdarkly_api.Environment:
    value = [{"teamKey": key, "minApprovals": n} for key, n in teams]
    patch = [launchdarkly_api.PatchOperation(op="replace", path="/approvalSettings/requiredReviewers", value=value)]
    return EnvironmentsApi(arena.admin).patch_environment(arena.project, PRODUCTION, patch)


def _raw_environment(arena: Arena) -> dict[str, Any]:
    response = arena.http.get(f"/api/v2/projects/{arena.project}/environments/{PRODUCTION}")
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def _raw_request(arena: Arena, request_id: str) -> dict[str, Any]:
    response = arena.http.get(f"/api/v2/approval-requests/{request_id}")
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def test_settings_name_teams_validated_with_launchdarklys_error_shape(arena: Arena) -> None:
    alice, bob = arena.person(), arena.person()
    pay = _team(arena, alice, bob)
    environment = _require(arena, (pay, 2))  # the official client reads the environment back
    assert environment.approval_settings.required is True
    assert _raw_environment(arena)["approvalSettings"]["requiredReviewers"] == [{"teamKey": pay, "minApprovals": 2}]
    environments = EnvironmentsApi(arena.admin)
    for value, message in (
        ([{"teamKey": "no-such-team", "minApprovals": 1}], "unknown team 'no-such-team'"),
        ([{"teamKey": pay, "minApprovals": 3}], "has 2 member(s), fewer than the 3"),
        ([{"teamKey": pay, "minApprovals": 0}], "between 1 and 5"),
        ([{"teamKey": pay}, {"teamKey": pay}], "more than once"),
        ({"teamKey": pay}, "must be a list"),
    ):
        patch = [launchdarkly_api.PatchOperation(op="replace", path="/approvalSettings/requiredReviewers", value=value)]
        status, error = refused(lambda p=patch: environments.patch_environment(arena.project, PRODUCTION, p))  # type: ignore[misc]
        assert (status, error["code"]) == (400, "invalid_request"), error
        assert message in error["message"]
    assert _raw_environment(arena)["approvalSettings"]["requiredReviewers"] == [{"teamKey": pay, "minApprovals": 2}]

    # The beta settings API sets them too, per resource kind, and serves them.
    body = {"environmentKey": PRODUCTION, "resourceKind": "segment", "requiredReviewers": [{"teamKey": pay}]}
    path = f"/api/v2/approval-requests/projects/{arena.project}/settings"
    response = arena.http.patch(path, json=body, headers=BETA)
    assert response.status_code == 200, response.text
    segment = response.json()["segment"]["environments"][PRODUCTION]
    assert segment["requiredReviewers"] == [{"teamKey": pay, "minApprovals": 1}]
    bad = arena.http.patch(path, json={**body, "requiredReviewers": [{"teamKey": pay, "min": 1}]}, headers=BETA)
    assert (bad.status_code, bad.json()["code"]) == (400, "invalid_request")

    # A team that settings require cannot be deleted until they no longer do.
    status, error = refused(lambda: TeamsApi(arena.admin).delete_team(pay))
    assert (status, error["code"]) == (400, "invalid_request") and "required reviewer team" in error["message"]
    _require(arena)
    arena.http.patch(path, json={**body, "requiredReviewers": []}, headers=BETA).raise_for_status()
    TeamsApi(arena.admin).delete_team(pay)


def test_a_request_waits_for_every_team_and_then_applies(arena: Arena) -> None:
    requester, payer, both, outsider = arena.person(), arena.person(), arena.person(), arena.person()
    pay = _team(arena, requester, payer, both)
    sre = _team(arena, both)
    _require(arena, (pay, 2), (sre, 1))

    body = launchdarkly_api.CreateFlagConfigApprovalRequestRequest(
        description="Turn checkout on",
        instructions=[{"kind": "turnFlagOn"}],
        notify_member_ids=[outsider.id],
    )
    created = arena.approvals(requester).post_approval_request_for_flag(arena.project, FLAG, PRODUCTION, body)
    assert created.review_status == "pending"
    # The teams' members are reviewers after those named (in the teams' order); the requester is not.
    assert created.notify_member_ids[0] == outsider.id
    assert sorted(created.notify_member_ids[1:]) == sorted([payer.id, both.id])
    assert _raw_request(arena, created.id)["requiredReviewers"] == [
        {"teamKey": pay, "minApprovals": 2, "approvals": 0, "satisfied": False},
        {"teamKey": sre, "minApprovals": 1, "approvals": 0, "satisfied": False},
    ]

    approve = launchdarkly_api.PostApprovalRequestReviewRequest(kind="approve")
    apply = launchdarkly_api.PostApprovalRequestApplyRequest(comment="ship it")

    def review(person: Person) -> launchdarkly_api.FlagConfigApprovalRequestResponse:
        return arena.approvals(person).post_approval_request_review_for_flag(
            arena.project, FLAG, PRODUCTION, created.id, approve
        )

    def try_apply() -> tuple[int, dict[str, Any]]:
        return refused(
            lambda: arena.approvals(requester).post_approval_request_apply_for_flag(
                arena.project, FLAG, PRODUCTION, created.id, apply
            )
        )

    assert review(outsider).review_status == "pending"  # minNumApprovals (1) is met, the teams' are not
    status, error = try_apply()
    assert (status, error["code"]) == (400, "invalid_request")
    assert f"2 approvals from team '{pay}' (it has 0)" in error["message"]
    assert f"1 approval from team '{sre}' (it has 0)" in error["message"]

    assert review(both).review_status == "pending"  # counts for both teams
    progress = _raw_request(arena, created.id)["requiredReviewers"]
    assert [(t["approvals"], t["satisfied"]) for t in progress] == [(1, False), (1, True)]
    status, error = try_apply()
    assert status == 400 and f"team '{pay}' (it has 1)" in error["message"] and sre not in error["message"]
    assert arena.get_flag(FLAG)["environments"][PRODUCTION]["on"] is False

    assert review(payer).review_status == "approved"
    listed = arena.http.get("/api/v2/approval-requests", params={"filter": 'reviewStatus anyOf ["approved"]'})
    assert created.id in [item["_id"] for item in listed.json()["items"]]
    applied = arena.approvals(requester).post_approval_request_apply_for_flag(
        arena.project, FLAG, PRODUCTION, created.id, apply
    )
    assert (applied.status, applied.review_status) == ("completed", "approved")
    assert arena.get_flag(FLAG)["environments"][PRODUCTION]["on"] is True

    # The teams' members were told; the requester was not (flagward's own API: not recorded for conformance).
    for person, expected in ((payer, True), (both, True), (requester, False)):
        response = httpx.get(f"{arena.base_url}/api/v2/notifications", headers={"Authorization": person.token})
        assert response.status_code == 200, response.text
        requested = [n for n in response.json()["items"] if n.get("approvalRequestId") == created.id]
        assert any(n["kind"] == "requested" for n in requested) is expected, (person, requested)


def test_pending_requests_keep_the_teams_they_were_made_with(arena: Arena) -> None:
    requester, payer, other = arena.person(), arena.person(), arena.person()
    pay = _team(arena, payer)
    _require(arena, (pay, 1))
    body = launchdarkly_api.CreateFlagConfigApprovalRequestRequest(
        description="Turn checkout on", instructions=[{"kind": "turnFlagOn"}]
    )
    made = arena.approvals(requester).post_approval_request_for_flag(arena.project, FLAG, PRODUCTION, body)
    arena.approvals(other).post_approval_request_review_for_flag(
        arena.project, FLAG, PRODUCTION, made.id, launchdarkly_api.PostApprovalRequestReviewRequest(kind="approve")
    )
    _require(arena)  # the requirement is lifted; the pending request is not silently approved
    fetched = arena.approvals(other).get_approval_for_flag(arena.project, FLAG, PRODUCTION, made.id)
    assert fetched.review_status == "pending"
    assert _raw_request(arena, made.id)["requiredReviewers"][0]["satisfied"] is False
    later = arena.approvals(requester).post_approval_request_for_flag(arena.project, FLAG, PRODUCTION, body)
    assert "requiredReviewers" not in _raw_request(arena, later.id)
