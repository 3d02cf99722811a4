"""Setting a flag trigger up through an approval request, driven by the official client against a real
server (SQLite and PostgreSQL): where production requires approval a writer cannot create a trigger
directly (405, pointing at the approval path); an approved ``addTrigger`` request, once applied, creates
it (audited with the request's id), the requester gets its URL by cycling it, and firing it acts as the
trigger; ``enableTrigger`` with ``operatingOnId`` enables a disabled one; bad instructions are 400."""

from __future__ import annotations

from typing import Any

import httpx
import launchdarkly_api
import pytest
from launchdarkly_api.api.flag_triggers_api import FlagTriggersApi
from launchdarkly_api.models import FlagTriggerInput, TriggerPost

from tests.support import accounts
from tests.support.approvals import PRODUCTION, Arena, Person, conformance_problems, refused
from tests.support.server import ServerProcess

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("conforms")]
FLAG = "kill-switch"
ON = [{"kind": "turnFlagOn"}]
ADD = {"kind": "addTrigger", "integrationKey": "datadog", "instructions": ON, "comment": "p99 alert"}


@pytest.fixture
def arena(server: ServerProcess) -> Any:
    arena = Arena(server.url, server.admin_token)
    arena.create_project(required=True, minNumApprovals=1)
    arena.create_flag(FLAG)
    yield arena
    assert conformance_problems(arena.recorder) == []
    arena.close()


def triggers_api(arena: Arena, who: Person | str) -> FlagTriggersApi:
    return FlagTriggersApi(arena.client(who))


def request_for(arena: Arena, who: Person, instructions: list[dict[str, Any]], operating_on: str | None = None) -> Any:
    body = launchdarkly_api.CreateFlagConfigApprovalRequestRequest(
        description="set up a trigger", instructions=instructions, operating_on_id=operating_on
    )
    return arena.approvals(who).post_approval_request_for_flag(arena.project, FLAG, PRODUCTION, body)


def approve_and_apply(arena: Arena, writer: Person, reviewer: Person, created: Any) -> Any:
    arena.approvals(reviewer).post_approval_request_review(
        created.id, launchdarkly_api.PostApprovalRequestReviewRequest(kind="approve")
    )
    return arena.approvals(writer).post_approval_request_apply(
        created.id, launchdarkly_api.PostApprovalRequestApplyRequest()
    )


def fire(url: str) -> httpx.Response:
    return httpx.post(url, json={"alert": "p99 latency"}, timeout=30)


def test_a_writer_sets_a_trigger_up_through_an_approval_request(arena: Arena) -> None:
    writer, reviewer = arena.person(), arena.person()
    post = TriggerPost(integration_key="datadog", instructions=ON)
    status, body = refused(
        lambda: triggers_api(arena, writer).create_trigger_workflow(arena.project, PRODUCTION, FLAG, post)
    )
    assert (status, body["code"]) == (405, "method_not_allowed")
    assert "createTriggers" in body["message"] and "addTrigger" in body["message"]

    created = request_for(arena, writer, [ADD])
    assert created.instructions == [ADD] and created.status == "pending"
    # The reviewer reads it in words in the console.
    session = {accounts.SESSION_COOKIE: accounts.login(arena.base_url, reviewer.email)}
    page = httpx.get(f"{arena.base_url}/approvals/{created.id}", cookies=session, timeout=30)
    assert page.status_code == 200 and "calling its URL will turn the flag on, without review" in page.text
    assert triggers_api(arena, writer).get_trigger_workflows(arena.project, PRODUCTION, FLAG).items == []
    applied = approve_and_apply(arena, writer, reviewer, created)
    assert applied.status == "completed"

    [trigger] = triggers_api(arena, writer).get_trigger_workflows(arena.project, PRODUCTION, FLAG).items
    assert (trigger.integration_key, trigger.instructions, trigger.enabled) == ("datadog", ON, True)
    assert trigger.maintainer_id == writer.id and "********" in str(trigger.trigger_url)
    made = next(e for e in arena.audit(arena.flag_spec(FLAG)) if e["accesses"][0]["action"] == "createTriggers")
    assert made["approvalRequestId"] == created.id

    # The URL was shown to no one; the requester cycles it (never gated) to get a working one.
    cycle = FlagTriggerInput(instructions=[{"kind": "cycleTriggerUrl"}])
    cycled = triggers_api(arena, writer).patch_trigger_workflow(arena.project, PRODUCTION, FLAG, str(trigger.id), cycle)
    assert cycled.trigger_url and "*" not in cycled.trigger_url
    assert fire(cycled.trigger_url).json() == {"acted": True, "triggerCount": 1}
    assert arena.get_flag(FLAG)["environments"][PRODUCTION]["on"] is True
    fired = next(e for e in arena.audit(arena.flag_spec(FLAG)) if e["accesses"][0]["action"] == "updateOn")
    detail = arena.http.get(f"/api/v2/auditlog/{fired['_id']}").json()
    assert detail.get("member") is None and str(trigger.id) in detail["token"]["name"]


def test_enabling_a_disabled_trigger_through_operating_on_id(arena: Arena) -> None:
    writer, reviewer = arena.person(), arena.person()
    admin = triggers_api(arena, arena.admin_token)
    created = admin.create_trigger_workflow(
        arena.project, PRODUCTION, FLAG, TriggerPost(integration_key="x", instructions=ON)
    )
    trigger_id = str(created.id)
    mine = triggers_api(arena, writer)
    disable = FlagTriggerInput(instructions=[{"kind": "disableTrigger"}])
    assert mine.patch_trigger_workflow(arena.project, PRODUCTION, FLAG, trigger_id, disable).enabled is False
    enable = FlagTriggerInput(instructions=[{"kind": "enableTrigger"}])
    status, body = refused(lambda: mine.patch_trigger_workflow(arena.project, PRODUCTION, FLAG, trigger_id, enable))
    assert status == 405 and "operatingOnId" in body["message"]
    assert fire(str(created.trigger_url)).status_code == 404

    request = request_for(arena, writer, [{"kind": "enableTrigger"}], operating_on=trigger_id)
    applied = approve_and_apply(arena, writer, reviewer, request)
    assert (applied.status, applied.operating_on_id) == ("completed", trigger_id)
    assert mine.get_trigger_workflow_by_id(arena.project, FLAG, PRODUCTION, trigger_id).enabled is True
    assert fire(str(created.trigger_url)).json()["acted"] is True


@pytest.mark.parametrize(
    ("instructions", "operating_on", "named"),
    [
        ([{**ADD, "instructions": [{"kind": "updateOffVariation"}]}], None, "instruction 0 (addTrigger)"),
        ([ADD, {"kind": "turnFlagOn"}], None, "instruction 1 (turnFlagOn)"),
        ([{"kind": "cycleTriggerUrl"}], "0" * 24, "instruction 0 (cycleTriggerUrl)"),
        ([{"kind": "enableTrigger"}], "0" * 24, "operatingOnId: unknown flag trigger"),
    ],
)
def test_bad_trigger_instructions_are_400(
    arena: Arena, instructions: list[dict[str, Any]], operating_on: str | None, named: str
) -> None:
    status, body = refused(lambda: request_for(arena, arena.person(), instructions, operating_on))
    assert (status, body["code"]) == (400, "invalid_request") and named in body["message"], body
