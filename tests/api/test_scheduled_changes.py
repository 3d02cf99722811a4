"""LaunchDarkly's scheduled-changes API driven by the official client (``ScheduledChangesApi``):
creating, reading, rescheduling, replacing and deleting; conflicts with other scheduled changes and
with direct changes; the approval gate, and edits through approval requests (``operatingOnId``)."""

from __future__ import annotations

import time
from collections.abc import Iterator

import launchdarkly_api
import pytest
from launchdarkly_api.api.scheduled_changes_api import ScheduledChangesApi

from tests.support.approvals import PRODUCTION, STAGING, Arena, conformance_problems, refused
from tests.support.server import ServerProcess

pytestmark = pytest.mark.usefixtures("conforms")
HOUR = 3_600_000


def later(ms: int = HOUR) -> int:
    return int(time.time() * 1000) + ms


@pytest.fixture
def arena(server: ServerProcess) -> Iterator[Arena]:
    arena = Arena(server.url, server.admin_token)
    arena.create_project(required=True, minNumApprovals=1)
    arena.create_flag("launch")
    arena.create_flag("other")
    yield arena
    assert conformance_problems(arena.recorder) == []
    arena.close()


def api(arena: Arena, who: object = None) -> ScheduledChangesApi:
    return ScheduledChangesApi(arena.client(who or arena.admin_token))  # type: ignore[arg-type]


def post(arena: Arena, env: str, when: int, *instructions: dict[str, object], **kw: object) -> object:
    body = launchdarkly_api.PostFlagScheduledChangesInput(execution_date=when, instructions=list(instructions))
    return api(arena, kw.pop("who", None)).post_flag_config_scheduled_changes(arena.project, "launch", env, body, **kw)


def test_create_read_reschedule_replace_and_delete(arena: Arena) -> None:
    client = api(arena)
    when = later()
    created = post(arena, STAGING, when, {"kind": "turnFlagOn"})
    assert (created.execution_date, created.instructions, created.version) == (when, [{"kind": "turnFlagOn"}], 1)
    listed = client.get_flag_config_scheduled_changes(arena.project, "launch", STAGING)
    assert [c.id for c in listed.items] == [created.id]
    fetched = client.get_feature_flag_scheduled_change(arena.project, "launch", STAGING, created.id)
    assert fetched.maintainer_id == created.maintainer_id and fetched.conflicts is None

    moved = later(2 * HOUR)
    edit = launchdarkly_api.FlagScheduledChangesInput(
        instructions=[
            {"kind": "updateScheduledChangesExecutionDate", "value": moved},
            {"kind": "replaceScheduledChangesInstructions", "value": [{"kind": "turnFlagOff"}]},
        ]
    )
    patched = client.patch_flag_config_scheduled_change(arena.project, "launch", STAGING, created.id, edit)
    assert (patched.execution_date, patched.instructions, patched.version) == (moved, [{"kind": "turnFlagOff"}], 2)

    client.delete_flag_config_scheduled_changes(arena.project, "launch", STAGING, created.id)
    assert client.get_flag_config_scheduled_changes(arena.project, "launch", STAGING).items == []
    status, body = refused(
        lambda: client.get_feature_flag_scheduled_change(arena.project, "launch", STAGING, created.id)
    )
    assert (status, body["code"]) == (404, "not_found")
    actions = [e["accesses"][0]["action"] for e in arena.audit(arena.flag_spec("launch", STAGING))]
    assert actions.count("updateScheduledChanges") == 3  # created, updated, deleted


def test_bad_input_is_a_clear_400(arena: Arena) -> None:
    past = refused(lambda: post(arena, STAGING, later(-1000), {"kind": "turnFlagOn"}))
    assert past[0] == 400 and "future" in past[1]["message"]
    unknown = refused(lambda: post(arena, STAGING, later(), {"kind": "noSuchThing"}))
    assert unknown[0] == 400 and "noSuchThing" in unknown[1]["message"]
    rule = refused(lambda: post(arena, STAGING, later(), {"kind": "removeClauses", "ruleId": "x", "clauseIds": ["y"]}))
    assert rule[0] == 400


def test_a_change_that_conflicts_with_an_earlier_one_needs_ignore_conflicts(arena: Arena) -> None:
    first = post(arena, STAGING, later(), {"kind": "turnFlagOn"})
    status, body = refused(lambda: post(arena, STAGING, later(2 * HOUR), {"kind": "turnFlagOff"}))
    assert status == 400 and "ignoreConflicts=true" in body["message"] and first.id in body["message"]
    second = post(arena, STAGING, later(2 * HOUR), {"kind": "turnFlagOff"}, ignore_conflicts=True)
    assert second.conflicts[0]["_id"] == first.id
    assert "on/off" in second.conflicts[0]["reason"]
    # Another flag's or environment's schedule is no conflict.
    assert post(arena, PRODUCTION, later(2 * HOUR), {"kind": "turnFlagOff"}).conflicts is None


def test_a_direct_change_that_would_make_a_scheduled_change_fail_is_refused_unless_told(arena: Arena) -> None:
    true_id = arena.get_flag("launch")["variations"][0]["_id"]
    add = {"kind": "addRule", "variationId": true_id, "clauses": [], "ref": "r"}
    added = arena.change("launch", STAGING, {**add, "clauses": [_clause()]})
    rule_id = added["environments"][STAGING]["rules"][0]["_id"]
    scheduled = post(arena, STAGING, later(), {"kind": "updateRuleDescription", "ruleId": rule_id, "description": "x"})
    removal = {"kind": "removeRule", "ruleId": rule_id}
    response = arena.semantic("launch", STAGING, removal)
    assert response.status_code == 400 and scheduled.id in response.json()["message"]
    assert arena.semantic("launch", STAGING, removal, ignoreConflicts="true").status_code == 200
    fetched = api(arena).get_feature_flag_scheduled_change(arena.project, "launch", STAGING, scheduled.id)
    assert "No longer applies" in fetched.conflicts[0]["reason"]


def _clause() -> dict[str, object]:
    return {"contextKind": "user", "attribute": "email", "op": "endsWith", "negate": False, "values": ["@x.com"]}


def test_where_approval_is_required_a_writer_goes_through_approval_requests(arena: Arena) -> None:
    writer, reviewer = arena.person(), arena.person()
    status, body = refused(lambda: post(arena, PRODUCTION, later(), {"kind": "turnFlagOn"}, who=writer))
    assert (status, body["code"]) == (405, "method_not_allowed") and "updateScheduledChanges" in body["message"]

    when = later()
    add = {"kind": "addScheduledChanges", "executionDate": when, "value": [{"kind": "turnFlagOn"}]}
    created = _approved_and_applied(arena, writer, reviewer, [add], None)
    assert created.status == "completed"
    [change] = api(arena, writer).get_flag_config_scheduled_changes(arena.project, "launch", PRODUCTION).items
    assert (change.execution_date, change.instructions, change.maintainer_id) == (
        when,
        [{"kind": "turnFlagOn"}],
        writer.id,
    )

    # Editing it directly is refused too; through a request naming it (operatingOnId) it is done.
    edit = launchdarkly_api.FlagScheduledChangesInput(
        instructions=[{"kind": "updateScheduledChangesExecutionDate", "value": later(3 * HOUR)}]
    )
    status, _ = refused(
        lambda: api(arena, writer).patch_flag_config_scheduled_change(
            arena.project, "launch", PRODUCTION, change.id, edit
        )
    )
    assert status == 405
    moved = later(5 * HOUR)
    reschedule = [{"kind": "updateScheduledChangesExecutionDate", "value": moved}]
    applied = _approved_and_applied(arena, writer, reviewer, reschedule, change.id)
    assert (applied.status, applied.operating_on_id) == ("completed", change.id)
    fetched = api(arena, writer).get_feature_flag_scheduled_change(arena.project, "launch", PRODUCTION, change.id)
    assert (fetched.execution_date, fetched.version) == (moved, 2)

    _approved_and_applied(arena, writer, reviewer, [{"kind": "deleteScheduledChange"}], change.id)
    assert api(arena, writer).get_flag_config_scheduled_changes(arena.project, "launch", PRODUCTION).items == []
    assert arena.get_flag("launch")["environments"][PRODUCTION]["on"] is False  # nothing ran early


def test_an_approval_request_must_name_a_scheduled_change_of_its_flag(arena: Arena) -> None:
    writer = arena.person()
    body = launchdarkly_api.CreateFlagConfigApprovalRequestRequest(
        description="reschedule",
        instructions=[{"kind": "updateScheduledChangesExecutionDate", "value": later()}],
        operating_on_id="0" * 24,
    )
    status, error = refused(
        lambda: arena.approvals(writer).post_approval_request_for_flag(arena.project, "launch", PRODUCTION, body)
    )
    assert status == 400 and "operatingOnId" in error["message"]


def _approved_and_applied(
    arena: Arena, writer: object, reviewer: object, instructions: list[dict[str, object]], operating_on: str | None
) -> launchdarkly_api.FlagConfigApprovalRequestResponse:
    body = launchdarkly_api.CreateFlagConfigApprovalRequestRequest(
        description="scheduled change", instructions=instructions, operating_on_id=operating_on
    )
    created = arena.approvals(writer).post_approval_request_for_flag(arena.project, "launch", PRODUCTION, body)  # type: ignore[arg-type]
    arena.approvals(reviewer).post_approval_request_review(  # type: ignore[arg-type]
        created.id, launchdarkly_api.PostApprovalRequestReviewRequest(kind="approve")
    )
    return arena.approvals(writer).post_approval_request_apply(  # type: ignore[arg-type]
        created.id, launchdarkly_api.PostApprovalRequestApplyRequest()
    )
