"""The approval-request endpoints over HTTP, driven by the official client (``ApprovalsApi``, and
``ApprovalsBetaApi`` for PATCH) on both stores: every endpoint, validation, filters and expansions,
links and versions, conflicts, scheduling, and a slice of the permission matrix. Every response a test
records is validated against LaunchDarkly's OpenAPI document when the test ends."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import launchdarkly_api
import pytest
from launchdarkly_api.api.approvals_beta_api import ApprovalsBetaApi
from launchdarkly_api.api.segments_api import SegmentsApi
from launchdarkly_api.api.teams_api import TeamsApi

from tests.support import accounts
from tests.support.accounts import unique
from tests.support.approvals import (
    PRODUCTION,
    STAGING,
    Arena,
    Person,
    conformance_problems,
    email_rule,
    refused,
    variation_ids,
)
from tests.support.openapi import load_spec
from tests.support.server import ServerProcess

FLAG_BASE = "/api/v2/projects/{projectKey}/flags/{featureFlagKey}/environments/{environmentKey}"
TOP = "/api/v2/approval-requests"
OPERATIONS = {
    ("GET", f"{FLAG_BASE}/approval-requests"),
    ("POST", f"{FLAG_BASE}/approval-requests"),
    ("POST", f"{FLAG_BASE}/approval-requests-flag-copy"),
    ("GET", f"{FLAG_BASE}/approval-requests/{{id}}"),
    ("DELETE", f"{FLAG_BASE}/approval-requests/{{id}}"),
    ("PATCH", f"{FLAG_BASE}/approval-requests/{{id}}"),
    ("POST", f"{FLAG_BASE}/approval-requests/{{id}}/reviews"),
    ("POST", f"{FLAG_BASE}/approval-requests/{{id}}/apply"),
    ("GET", TOP),
    ("POST", TOP),
    ("GET", f"{TOP}/{{id}}"),
    ("DELETE", f"{TOP}/{{id}}"),
    ("PATCH", f"{TOP}/{{id}}"),
    ("POST", f"{TOP}/{{id}}/reviews"),
    ("POST", f"{TOP}/{{id}}/apply"),
}
ON = {"kind": "turnFlagOn"}


@dataclass
class Cast:
    """The module's project (production: one approval, no self-review, declined changes stay out) and
    the people acting on it."""

    arena: Arena
    requester: Person
    reviewer: Person
    reader: Person
    admin: Person

    @property
    def project(self) -> str:
        return self.arena.project

    def flag(self) -> str:
        key = unique("flag")
        self.arena.create_flag(key)
        return key

    def request(self, flag: str, *instructions: dict[str, Any], who: Person | str | None = None, **fields: Any) -> Any:
        body = launchdarkly_api.CreateFlagConfigApprovalRequestRequest(
            description=fields.pop("description", "Turn it on"), instructions=list(instructions or (ON,)), **fields
        )
        api = self.arena.approvals(who or self.requester)
        return api.post_approval_request_for_flag(self.project, flag, PRODUCTION, body)

    def review(self, flag: str, request_id: str, kind: str = "approve", who: Person | str | None = None) -> Any:
        body = launchdarkly_api.PostApprovalRequestReviewRequest(kind=kind)
        api = self.arena.approvals(who or self.reviewer)
        return api.post_approval_request_review_for_flag(self.project, flag, PRODUCTION, request_id, body)

    def apply(self, flag: str, request_id: str, who: Person | str | None = None) -> Any:
        body = launchdarkly_api.PostApprovalRequestApplyRequest()
        api = self.arena.approvals(who or self.requester)
        return api.post_approval_request_apply_for_flag(self.project, flag, PRODUCTION, request_id, body)

    def get(self, flag: str, request_id: str) -> Any:
        return self.arena.approvals(self.admin).get_approval_for_flag(self.project, flag, PRODUCTION, request_id)


@pytest.fixture(scope="module")
def cast(server: ServerProcess) -> Iterator[Cast]:
    arena = Arena(server.url, server.admin_token)
    arena.create_project(required=True, minNumApprovals=1, canReviewOwnRequest=False, canApplyDeclinedChanges=False)
    yield Cast(arena, arena.person(), arena.person(), arena.person("reader"), arena.person("admin"))
    arena.close()


@pytest.fixture(autouse=True)
def _conforms(cast: Cast) -> Iterator[None]:
    """Each test's responses validate against LaunchDarkly's OpenAPI document."""
    start = len(cast.arena.recorder.exchanges)
    yield
    recorded = cast.arena.recorder.exchanges[start:]
    problems = conformance_problems(type(cast.arena.recorder)(recorded))
    assert problems == [], "\n".join(problems)


def _status(call: Callable[[], object]) -> int:
    return refused(call)[0]


# -- every endpoint ----------------------------------------------------------------------------------


def test_every_endpoint_with_the_official_client(cast: Cast) -> None:
    """One tour through all fifteen operations; each response deserializes into the client's models."""
    start = len(cast.arena.recorder.exchanges)
    flag = cast.flag()
    api, beta = cast.arena.approvals(cast.requester), ApprovalsBetaApi(cast.arena.client(cast.requester))
    cast.arena.change(flag, STAGING, ON)

    copy = api.post_flag_copy_config_approval_request(
        cast.project,
        flag,
        PRODUCTION,
        launchdarkly_api.CreateCopyFlagConfigApprovalRequestRequest(
            description="copy", source=launchdarkly_api.SourceFlag(key=STAGING)
        ),
    )
    assert copy.instructions == [ON] and copy.source.key == STAGING and copy.source.version is not None
    listed = api.get_approvals_for_flag(cast.project, flag, PRODUCTION)
    assert [r.id for r in listed.items] == [copy.id]
    assert api.get_approval_for_flag(cast.project, flag, PRODUCTION, copy.id).id == copy.id
    flagged = cast.arena.http.patch(
        f"/api/v2/projects/{cast.project}/flags/{flag}/environments/{PRODUCTION}/approval-requests/{copy.id}",
        json={"instructions": [{"kind": "updateDescription", "value": "copy staging"}]},
        headers={"Authorization": cast.requester.token},
    )
    assert (flagged.status_code, flagged.json()["description"], flagged.json()["_version"]) == (200, "copy staging", 2)
    api.delete_approval_request_for_flag(cast.project, flag, PRODUCTION, copy.id)

    made = api.post_approval_request(
        launchdarkly_api.CreateApprovalRequestRequest(
            resource_id=f"proj/{cast.project}:env/{PRODUCTION}:flag/{flag}", description="on", instructions=[ON]
        )
    )
    assert (made.resource_id, made.approval_settings.min_num_approvals) == (cast.arena.flag_spec(flag), 1)
    patched = beta.patch_approval_request(
        made.id,
        launchdarkly_api.ApprovalRequestPatchInput(instructions=[{"kind": "updateDescription", "value": "On!"}]),
    )
    assert (patched.description, patched.version) == ("On!", 2)
    reviewed = cast.arena.approvals(cast.reviewer).post_approval_request_review(
        made.id, launchdarkly_api.PostApprovalRequestReviewRequest(kind="approve")
    )
    assert reviewed.review_status == "approved"
    fetched = api.get_approval_request(made.id, expand="flag,project,environments,resource")
    assert (fetched.flag.key, fetched.project.key, fetched.resource.kind) == (flag, cast.project, "flag")
    assert [e.key for e in fetched.environments] == [PRODUCTION]
    listing = api.get_approval_requests(filter=f"resourceId equals {cast.arena.flag_spec(flag)}", expand="flag")
    assert (listing.total_count, listing.items[0].flag.key) == (1, flag)
    applied = api.post_approval_request_apply(made.id, launchdarkly_api.PostApprovalRequestApplyRequest())
    assert applied.status == "completed"

    flag_request = cast.request(flag, {"kind": "turnFlagOff"})
    cast.review(flag, flag_request.id)
    assert cast.apply(flag, flag_request.id).status == "completed"
    assert cast.arena.get_flag(flag)["environments"][PRODUCTION]["on"] is False
    other = cast.request(flag)
    api.delete_approval_request(other.id)
    assert _status(lambda: api.get_approval_request(other.id)) == 404

    recorded = type(cast.arena.recorder)(cast.arena.recorder.exchanges[start:])
    assert OPERATIONS - recorded.operations(load_spec().operation) == set()


# -- creating ----------------------------------------------------------------------------------------


def test_create_resolves_team_keys_and_links_both_forms(cast: Cast) -> None:
    team_key = unique("team")
    TeamsApi(cast.arena.admin).post_team(
        launchdarkly_api.TeamPostInput(key=team_key, name="Reviewers", member_ids=[cast.reviewer.id, cast.admin.id])
    )
    flag = cast.flag()
    created = cast.request(flag, notify_member_ids=[cast.admin.id], notify_team_keys=[team_key], comment="please")
    assert created.notify_member_ids == [cast.admin.id, cast.reviewer.id]
    assert created.notify_team_keys == [team_key]
    assert (created.requestor_id, created.service_kind, created.instructions) == (
        cast.requester.id,
        "launchdarkly",
        [ON],
    )
    assert len(created.id) == 24 and created.creation_date > 0
    scoped = f"/api/v2/projects/{cast.project}/flags/{flag}/environments/{PRODUCTION}/approval-requests"
    assert {k: v["href"] for k, v in created.links.items()} == {
        "self": f"{scoped}/{created.id}",
        "parent": scoped,
        "approvalRequest": f"{TOP}/{created.id}",
        "flag": f"/api/v2/flags/{cast.project}/{flag}",
    }
    top = cast.arena.approvals(cast.admin).get_approval_request(created.id)
    assert {k: v["href"] for k, v in top.links.items()} == {
        "self": f"{TOP}/{created.id}",
        "parent": TOP,
        "flagApprovalRequest": f"{scoped}/{created.id}",
        "flag": f"/api/v2/flags/{cast.project}/{flag}",
    }


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"instructions": [ON]}, "description"),
        ({"description": "x"}, "instructions"),
        ({"description": "x", "instructions": []}, "instructions"),
        ({"description": "x", "instructions": [{"kind": "fly"}]}, "fly"),
        ({"description": "x", "instructions": [ON], "notifyMemberIds": ["0123456789abcdef01234567"]}, "unknown member"),
        ({"description": "x", "instructions": [ON], "notifyTeamKeys": ["ghosts"]}, "ghosts"),
        ({"description": "x", "instructions": [ON], "operatingOnId": "0123456789abcdef01234567"}, "operatingOnId"),
    ],
)
def test_create_validates(cast: Cast, body: dict[str, Any], message: str) -> None:
    flag = cast.flag()
    response = cast.arena.http.post(
        f"/api/v2/projects/{cast.project}/flags/{flag}/environments/{PRODUCTION}/approval-requests", json=body
    )
    assert (response.status_code, response.json()["code"]) == (400, "invalid_request")
    assert message in response.json()["message"]
    assert cast.arena.approvals(cast.admin).get_approvals_for_flag(cast.project, flag, PRODUCTION).items == []


def test_unknown_flag_or_environment_is_404(cast: Cast) -> None:
    body = launchdarkly_api.CreateFlagConfigApprovalRequestRequest(description="x", instructions=[ON])
    api = cast.arena.approvals(cast.requester)
    assert _status(lambda: api.post_approval_request_for_flag(cast.project, "nope", PRODUCTION, body)) == 404
    assert _status(lambda: api.post_approval_request_for_flag(cast.project, cast.flag(), "qa", body)) == 404
    # Listing a flag's requests looks the flag and environment up too: LaunchDarkly answers 404, not [].
    assert _status(lambda: api.get_approvals_for_flag(cast.project, "nope", PRODUCTION)) == 404
    assert _status(lambda: api.get_approvals_for_flag(cast.project, cast.flag(), "qa")) == 404
    assert _status(lambda: api.get_approvals_for_flag("no-such-project", cast.flag(), PRODUCTION)) == 404


@pytest.mark.parametrize(
    ("fields", "status", "message"),
    [
        ({"includedActions": ["updateOn"], "excludedActions": ["updateRules"]}, 400, "both"),
        ({"includedActions": ["updateFlagConfigMigrationSettings"]}, 400, "updateFlagConfigMigrationSettings"),
        ({"excludedActions": ["updateEverything"]}, 400, "updateEverything"),
        ({"source": {"key": STAGING, "version": 99}}, 409, "version"),
        ({"source": {"key": "qa"}}, 400, "qa"),
        ({"source": {"key": PRODUCTION}}, 400, "different"),
        ({"source": {}}, 400, "source"),
        ({"description": ""}, 400, "description"),
        ({"includedActions": ["updateRules"]}, 400, "nothing to copy"),
    ],
)
def test_copy_requests_validate(cast: Cast, fields: dict[str, Any], status: int, message: str) -> None:
    """Sent as raw JSON: the official client refuses unknown actions before sending them."""
    flag = cast.flag()
    cast.arena.change(flag, STAGING, ON)
    body = {"description": "copy", "source": {"key": STAGING}, **fields}
    response = cast.arena.http.post(
        f"/api/v2/projects/{cast.project}/flags/{flag}/environments/{PRODUCTION}/approval-requests-flag-copy",
        json=body,
        headers={"Authorization": cast.requester.token},
    )
    assert response.status_code == status and message in response.json()["message"], response.text
    assert cast.arena.approvals(cast.admin).get_approvals_for_flag(cast.project, flag, PRODUCTION).items == []


def test_a_copy_pins_the_source_version_it_was_given(cast: Cast) -> None:
    flag = cast.flag()
    version = cast.arena.change(flag, STAGING, ON)["environments"][STAGING]["version"]
    body = launchdarkly_api.CreateCopyFlagConfigApprovalRequestRequest(
        description="copy",
        source=launchdarkly_api.SourceFlag(key=STAGING, version=version),
        included_actions=["updateOn"],
    )
    created = cast.arena.approvals(cast.requester).post_flag_copy_config_approval_request(
        cast.project, flag, PRODUCTION, body
    )
    assert (created.source.key, created.source.version, created.instructions) == (STAGING, version, [ON])


def test_a_segment_request_through_the_top_level_endpoint(cast: Cast) -> None:
    segment = unique("seg")
    SegmentsApi(cast.arena.admin).post_segment(
        cast.project, PRODUCTION, launchdarkly_api.SegmentBody(key=segment, name="S")
    )
    cast.arena.settings(PRODUCTION, "segment", required=True, minNumApprovals=1)
    include = {"kind": "addIncludedTargets", "contextKind": "user", "values": ["ann"]}
    direct = cast.arena.http.patch(
        f"/api/v2/segments/{cast.project}/{PRODUCTION}/{segment}",
        content=json.dumps({"instructions": [include]}),
        headers={
            "Content-Type": "application/json; domain-model=launchdarkly.semanticpatch",
            "Authorization": cast.requester.token,
        },
    )
    assert direct.status_code == 403, direct.text
    resource = f"proj/{cast.project}:env/{PRODUCTION}:segment/{segment}"
    api = cast.arena.approvals(cast.requester)
    created = api.post_approval_request(
        launchdarkly_api.CreateApprovalRequestRequest(
            resource_id=resource, description="Add Ann", instructions=[include]
        )
    )
    assert (created.resource_id, created.links["self"]["href"]) == (resource, f"{TOP}/{created.id}")
    cast.arena.approvals(cast.reviewer).post_approval_request_review(
        created.id, launchdarkly_api.PostApprovalRequestReviewRequest(kind="approve")
    )
    assert (
        api.post_approval_request_apply(created.id, launchdarkly_api.PostApprovalRequestApplyRequest()).status
        == "completed"
    )
    assert SegmentsApi(cast.arena.admin).get_segment(cast.project, PRODUCTION, segment).included == ["ann"]
    resource_view = api.get_approval_request(created.id, expand="resource")
    assert (resource_view.resource.kind, resource_view.resource.segment.key) == ("segment", segment)
    (entry,) = [e for e in cast.arena.audit(resource) if e["kind"] == "segment" and e.get("approvalRequestId")]
    assert entry["approvalRequestId"] == created.id
    cast.arena.settings(PRODUCTION, "segment", required=False)


# -- reviewing, applying, deleting, patching ------------------------------------------------------------


def test_versions_grow_and_a_review_after_apply_is_400(cast: Cast) -> None:
    flag = cast.flag()
    created = cast.request(flag)
    assert created.version == 1
    commented = cast.review(flag, created.id, "comment", who=cast.requester)
    assert (commented.version, commented.review_status) == (2, "pending")
    approved = cast.review(flag, created.id)
    assert (approved.version, approved.review_status) == (3, "approved")
    applied = cast.apply(flag, created.id)
    assert (applied.version, applied.status) == (4, "completed")
    code, error = refused(lambda: cast.review(flag, created.id, "comment"))
    assert (code, error["code"]) == (400, "invalid_request") and "completed" in error["message"]
    code, error = refused(lambda: cast.arena.approvals(cast.admin).delete_approval_request(created.id))
    assert code == 400 and "applied" in error["message"]
    code, _ = refused(
        lambda: ApprovalsBetaApi(cast.arena.client(cast.admin)).patch_approval_request(
            created.id,
            launchdarkly_api.ApprovalRequestPatchInput(instructions=[{"kind": "updateDescription", "value": "x"}]),
        )
    )
    assert code == 400
    assert cast.get(flag, created.id).version == 4


def test_a_review_needs_a_known_kind(cast: Cast) -> None:
    flag = cast.flag()
    created = cast.request(flag)
    for body in ({}, {"kind": "lgtm"}):
        response = cast.arena.http.post(f"{TOP}/{created.id}/reviews", json=body)
        assert response.status_code == 400 and "approve, decline, comment" in response.json()["message"]
    assert cast.get(flag, created.id).all_reviews == []


def test_update_description_keeps_the_approval_and_add_reviewers_takes_teams(cast: Cast) -> None:
    team_key = unique("team")
    TeamsApi(cast.arena.admin).post_team(
        launchdarkly_api.TeamPostInput(key=team_key, name="T", member_ids=[cast.admin.id])
    )
    flag = cast.flag()
    created = cast.request(flag)
    cast.review(flag, created.id)
    beta = ApprovalsBetaApi(cast.arena.client(cast.requester))
    patched = beta.patch_approval_request(
        created.id,
        launchdarkly_api.ApprovalRequestPatchInput(
            comment="clearer",
            instructions=[
                {"kind": "updateDescription", "value": "Turn it on today"},
                {"kind": "addReviewers", "notifyTeamKeys": [team_key], "notifyMemberIds": [cast.reviewer.id]},
            ],
        ),
    )
    assert (patched.description, patched.review_status, patched.version) == ("Turn it on today", "approved", 3)
    assert (patched.notify_member_ids, patched.notify_team_keys) == ([cast.reviewer.id, cast.admin.id], [team_key])
    for instructions in (
        [{"kind": "updateInstructions"}],
        [{"kind": "addReviewers"}],
        [{"kind": "updateDescription", "value": ""}],
    ):
        code = _status(
            lambda i=instructions: beta.patch_approval_request(
                created.id, launchdarkly_api.ApprovalRequestPatchInput(instructions=i)
            )
        )
        assert code == 400
    no_body = ApprovalsBetaApi(cast.arena.client(cast.requester))
    assert (
        _status(lambda: no_body.patch_flag_config_approval_request(cast.project, flag, PRODUCTION, created.id)) == 400
    )
    entry = next(cast.arena.audit(cast.arena.flag_spec(flag)))
    assert (entry["accesses"][0]["action"], entry["comment"]) == ("updateApprovalRequest", "clearer")
    assert cast.get(flag, created.id).version == 3


def test_a_notified_reader_reads_the_request_but_cannot_review_it(cast: Cast) -> None:
    flag = cast.flag()
    created = cast.request(flag, notify_member_ids=[cast.reader.id])
    as_reader = cast.arena.approvals(cast.reader)
    assert as_reader.get_approval_request(created.id).notify_member_ids == [cast.reader.id]
    mine = as_reader.get_approval_requests(filter=f'notifyMemberIds anyOf ["{cast.reader.id}"]')
    assert created.id in [r.id for r in mine.items]
    for kind in ("approve", "decline", "comment"):
        code, error = refused(lambda k=kind: cast.review(flag, created.id, k, who=cast.reader))
        assert (code, error["code"]) == (403, "forbidden")
    assert _status(lambda: cast.apply(flag, created.id, who=cast.reader)) == 403
    assert cast.get(flag, created.id).version == 1


def test_a_flag_scoped_path_must_name_the_requests_flag_and_environment(cast: Cast) -> None:
    flag, other = cast.flag(), cast.flag()
    created = cast.request(flag)
    api = cast.arena.approvals(cast.admin)
    assert _status(lambda: api.get_approval_for_flag(cast.project, other, PRODUCTION, created.id)) == 404
    assert _status(lambda: api.get_approval_for_flag(cast.project, flag, STAGING, created.id)) == 404
    assert _status(lambda: api.delete_approval_request_for_flag(cast.project, flag, STAGING, created.id)) == 404
    assert _status(lambda: api.get_approval_request("0123456789abcdef01234567")) == 404
    assert api.get_approval_for_flag(cast.project, flag, PRODUCTION, created.id).id == created.id


def test_delete_cancels_and_leaves_an_audit_entry(cast: Cast) -> None:
    flag = cast.flag()
    created = cast.request(flag)
    reader_api = cast.arena.approvals(cast.reader)
    assert _status(lambda: reader_api.delete_approval_request(created.id)) == 403
    response = cast.arena.approvals(cast.requester).delete_approval_request_for_flag_with_http_info(
        cast.project, flag, PRODUCTION, created.id
    )
    assert response.status_code == 204
    assert cast.arena.approvals(cast.admin).get_approvals_for_flag(cast.project, flag, PRODUCTION).items == []
    entry = next(cast.arena.audit(cast.arena.flag_spec(flag)))
    assert (entry["accesses"][0]["action"], entry["approvalRequestId"]) == ("deleteApprovalRequest", created.id)


# -- conflicts ---------------------------------------------------------------------------------------


def test_two_requests_on_one_rule_conflict_and_the_second_fails_on_apply(cast: Cast) -> None:
    flag = cast.flag()
    on_id = variation_ids(cast.arena.get_flag(flag))[0]
    rule_id = cast.arena.change(flag, PRODUCTION, email_rule(on_id))["environments"][PRODUCTION]["rules"][0]["_id"]
    remove = cast.request(flag, {"kind": "removeRule", "ruleId": rule_id}, description="Drop it")
    describe = cast.request(
        flag, {"kind": "updateRuleDescription", "ruleId": rule_id, "description": "x"}, description="Name it"
    )
    assert remove.conflicts == [] and len(describe.conflicts) == 1  # the first sees the second once it exists
    (seen_by_remove,) = cast.get(flag, remove.id).conflicts
    (seen_by_describe,) = cast.get(flag, describe.id).conflicts
    assert describe.id in seen_by_remove.reason and seen_by_remove.instruction == remove.instructions[0]
    assert remove.id in seen_by_describe.reason and "Drop it" in seen_by_describe.reason
    for request in (remove, describe):
        cast.review(flag, request.id)
    cast.apply(flag, remove.id)
    code, error = refused(lambda: cast.apply(flag, describe.id))
    assert code == 400 and rule_id in error["message"] and "failed" in error["message"]
    failed = cast.get(flag, describe.id)
    assert failed.status == "failed" and failed.applied_date is not None
    (reason,) = failed.conflicts
    assert reason.reason.startswith("Applying failed:") and rule_id in reason.reason
    assert cast.arena.get_flag(flag)["environments"][PRODUCTION]["rules"] == []


def test_a_direct_change_that_would_break_a_pending_request_needs_ignore_conflicts(cast: Cast) -> None:
    flag = cast.flag()
    on_id = variation_ids(cast.arena.get_flag(flag))[0]
    rule_id = cast.arena.change(flag, PRODUCTION, email_rule(on_id))["environments"][PRODUCTION]["rules"][0]["_id"]
    pending = cast.request(flag, {"kind": "updateRuleDescription", "ruleId": rule_id, "description": "x"})
    refused_change = cast.arena.semantic(flag, PRODUCTION, {"kind": "removeRule", "ruleId": rule_id})
    assert refused_change.status_code == 400 and pending.id in refused_change.json()["message"]
    assert cast.arena.get_flag(flag)["environments"][PRODUCTION]["rules"][0]["_id"] == rule_id
    forced = cast.arena.semantic(flag, PRODUCTION, {"kind": "removeRule", "ruleId": rule_id}, ignoreConflicts="true")
    assert forced.status_code == 200, forced.text
    (conflict,) = cast.get(flag, pending.id).conflicts
    assert conflict.reason.startswith("No longer applies cleanly") and rule_id in conflict.reason


def test_no_op_instructions_are_not_conflicts(cast: Cast) -> None:
    flag = cast.flag()
    already_off = cast.request(flag, {"kind": "turnFlagOff"})
    turn_on = cast.request(flag, ON)
    assert cast.get(flag, already_off.id).conflicts == [] and cast.get(flag, turn_on.id).conflicts == []
    second_on = cast.request(flag, ON)
    assert len(second_on.conflicts) == 1 and len(cast.get(flag, turn_on.id).conflicts) == 1


# -- scheduling and listing ----------------------------------------------------------------------------


def test_a_far_execution_date_schedules_and_delete_cancels(cast: Cast) -> None:
    flag = cast.flag()
    when = int(time.time() * 1000) + 3_600_000
    created = cast.request(flag, execution_date=when)
    assert created.execution_date == when
    cast.review(flag, created.id)
    scheduled = cast.apply(flag, created.id)
    assert (scheduled.status, scheduled.execution_date) == ("scheduled", when)
    assert cast.arena.get_flag(flag)["environments"][PRODUCTION]["on"] is False
    assert _status(lambda: cast.apply(flag, created.id)) == 400
    cast.arena.approvals(cast.requester).delete_approval_request(created.id)
    assert cast.arena.approvals(cast.admin).get_approvals_for_flag(cast.project, flag, PRODUCTION).items == []


def test_the_top_level_list_filters_expands_and_pages(server: ServerProcess, cast: Cast) -> None:
    arena = Arena(server.url, server.admin_token, recorder=cast.arena.recorder)
    arena.create_project(required=True, minNumApprovals=1)
    arena.create_flag("a")
    arena.create_flag("b")
    api = arena.approvals(cast.requester)

    def make(flag: str, env: str, **fields: Any) -> Any:
        body = launchdarkly_api.CreateFlagConfigApprovalRequestRequest(
            description=f"{flag}/{env}", instructions=[ON], **fields
        )
        return api.post_approval_request_for_flag(arena.project, flag, env, body)

    first = make("a", PRODUCTION, notify_member_ids=[cast.reviewer.id])
    second = make("a", STAGING)
    third = make("b", PRODUCTION)
    arena.approvals(cast.reviewer).post_approval_request_review(
        third.id, launchdarkly_api.PostApprovalRequestReviewRequest(kind="approve")
    )
    project = f"projectKey equals {arena.project}"

    def ids(filter: str, **params: Any) -> tuple[list[str], int]:
        listing = api.get_approval_requests(filter=filter, **params)
        return [r.id for r in listing.items], listing.total_count

    assert sorted(ids(project)[0]) == sorted([first.id, second.id, third.id])
    assert ids(f"{project},resourceId equals {arena.flag_spec('a', STAGING)}") == ([second.id], 1)
    assert ids(f'{project},notifyMemberIds anyOf ["{cast.reviewer.id}"]') == ([first.id], 1)
    assert ids(f'{project},reviewStatus anyOf ["approved"]') == ([third.id], 1)
    assert ids(f'{project},status anyOf ["pending"],requestorId equals {cast.requester.id}')[1] == 3
    assert ids(f'{project},status anyOf ["completed"]') == ([], 0)
    assert ids(f"{project},resourceKind equals segment") == ([], 0)
    page, total = ids(project, limit=2, offset=2)
    assert (len(page), total) == (1, 3)
    listing = api.get_approval_requests(filter=project, limit=1, expand="project,environments,flag")
    assert listing.links["next"].href.startswith(f"{TOP}?")
    (item,) = listing.items
    assert (item.project.key, item.flag.key, item.environments[0].key) == (arena.project, "b", PRODUCTION)
    for bad in ("creationDate equals 1", "status equals pending", "requestorId anyOf x"):
        assert _status(lambda b=bad: api.get_approval_requests(filter=b)) == 400
    assert _status(lambda: api.get_approval_requests(limit=201)) == 400
    assert _status(lambda: api.get_approval_requests(expand="everything")) == 400
    arena.close()


# -- a slice of the permission matrix (the full one runs on the fakes) ----------------------------------

SLICE_ROLES = ("reader", "writer", "admin", "service-writer")
SLICE_ACTIONS = ("approve", "decline", "comment", "apply")


def _expected(role: str, own: bool, action: str) -> int:
    """minNumApprovals 1, no self-review: the same oracle as the unit permutations, restricted."""
    if role == "reader":
        return 403
    if own and action in ("approve", "decline"):
        return 403
    return 200


def _slice_actor(cast: Cast, role: str, own: bool) -> tuple[Person | str, str | None, str | None]:
    """(who acts, their member id, their service token id); own readers are writers demoted after
    making the request, so the request is made by ``_arrange_slice``."""
    if role == "service-writer":
        token = accounts.service_token(cast.arena.admin, "writer")
        return str(token.token), None, str(token.id)
    if role == "reader":
        person = cast.arena.person("writer") if own else cast.reader
    else:
        person = cast.arena.person(role) if own else (cast.reviewer if role == "writer" else cast.admin)
    return person, person.id, None


@pytest.mark.parametrize("action", SLICE_ACTIONS)
@pytest.mark.parametrize("own", [False, True], ids=["other", "own"])
@pytest.mark.parametrize("role", SLICE_ROLES)
def test_who_may_review_and_apply_over_http(cast: Cast, role: str, own: bool, action: str) -> None:
    flag = cast.flag()
    who, member_id, token_id = _slice_actor(cast, role, own)
    request = cast.request(flag, who=who if own else cast.requester)
    if own and role == "reader":
        assert isinstance(who, Person)
        who = cast.arena.set_role(who, "reader")
    if action == "apply":
        cast.review(flag, request.id)
    version = cast.get(flag, request.id).version
    call = (
        (lambda: cast.apply(flag, request.id, who=who))
        if action == "apply"
        else (lambda: cast.review(flag, request.id, action, who=who))
    )
    if _expected(role, own, action) == 403:
        code, error = refused(call)
        assert (code, error["code"]) == (403, "forbidden")
        assert cast.get(flag, request.id).version == version
        assert cast.arena.get_flag(flag)["environments"][PRODUCTION]["on"] is False
        return
    result = call()
    if action == "apply":
        assert (result.status, result.applied_by_member_id, result.applied_by_service_token_id) == (
            "completed",
            member_id,
            token_id,
        )
        assert cast.arena.get_flag(flag)["environments"][PRODUCTION]["on"] is True
        return
    review = result.all_reviews[-1]
    assert (review.kind, review.member_id, review.service_token_id) == (action, member_id, token_id)
    assert result.review_status == {"approve": "approved", "decline": "declined", "comment": "pending"}[action]
