"""Workflows and workflow templates on a real server (both stores), driven by the official client
(``WorkflowsApi``, ``WorkflowTemplatesApi``) wherever the body is LaunchDarkly's; flagward's own promotion
fields (a stage's ``environmentKey``), which the client's models drop, go through HTTP and the answers are
still read by the client's models. Every response validates against LaunchDarkly's OpenAPI document.

The scheduler of the server process applies the stages (every second): a three-environment promotion
pipeline dev → staging → production is followed through what SDKs are served in each environment."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import launchdarkly_api
import pytest
from launchdarkly_api.api.environments_api import EnvironmentsApi
from launchdarkly_api.api.workflow_templates_api import WorkflowTemplatesApi
from launchdarkly_api.api.workflows_api import WorkflowsApi
from launchdarkly_api.models.custom_workflow_output import CustomWorkflowOutput

from tests.support.approvals import PRODUCTION, STAGING, Arena, Person, conformance_problems, email_rule, refused
from tests.support.approvals import variation_ids as ids
from tests.support.sdk import wait_until
from tests.support.server import ServerProcess

DEV = "dev"
APPROVAL = {"kind": "ld-approval"}
WAIT = 30.0  # seconds: the scheduler runs every second, a stage waiting for approval looks again every two


@pytest.fixture
def arena(server: ServerProcess) -> Iterator[Arena]:
    arena = Arena(server.url, server.admin_token)
    arena.create_project(required=True, minNumApprovals=1)
    EnvironmentsApi(arena.admin).post_environment(
        arena.project, launchdarkly_api.EnvironmentPost(key=DEV, name="Dev", color="0000ff")
    )
    yield arena
    arena.close()
    problems = conformance_problems(arena.recorder)
    assert problems == [], "\n".join(problems)


def _workflows(arena: Arena, who: Person | str) -> WorkflowsApi:
    return WorkflowsApi(arena.client(who))


def _path(arena: Arena, flag: str, env: str) -> str:
    return f"/api/v2/projects/{arena.project}/flags/{flag}/environments/{env}/workflows"


def _post(arena: Arena, who: Person, flag: str, env: str, body: dict[str, Any]) -> CustomWorkflowOutput:
    """POST a workflow with flagward's own fields; the answer is read by the official client's model."""
    response = arena.http.post(_path(arena, flag, env), json=body, headers={"Authorization": who.token})
    assert response.status_code == 201, response.text
    return CustomWorkflowOutput.from_json(response.text)


def _served(arena: Arena, env: str, flag: str) -> dict[str, Any]:
    """What SDKs of ``env`` are served for ``flag`` (``/sdk/latest-all``)."""
    sdk_key = arena.http.get(f"/api/v2/projects/{arena.project}/environments/{env}").json()["apiKey"]
    body = httpx.get(f"{arena.base_url}/sdk/latest-all", headers={"Authorization": sdk_key}).json()
    served: dict[str, Any] = body["flags"][flag]
    return served


def _get(arena: Arena, who: Person, flag: str, env: str, workflow_id: str) -> CustomWorkflowOutput:
    return _workflows(arena, who).get_custom_workflow(arena.project, flag, env, workflow_id)


def _stage_statuses(workflow: CustomWorkflowOutput) -> list[str]:
    return [workflow.execution.status, *(s.execution.status for s in workflow.stages or [])]


def _request_of(arena: Arena, who: Person, flag: str, env: str, stage_index: int) -> Any:
    """The pending approval request of a workflow's stage, as the official client reads it."""

    def find() -> Any:
        listing = arena.approvals(who).get_approvals_for_flag(arena.project, flag, env)
        return next(
            (
                r
                for r in listing.items
                if r.status == "pending"
                and r.custom_workflow_metadata is not None
                and r.custom_workflow_metadata.stage.index == stage_index
            ),
            None,
        )

    return wait_until(find, timeout=WAIT, interval=0.2)


def test_a_promotion_pipeline_through_three_environments(arena: Arena) -> None:
    """Stage 1 copies dev into staging at once; stage 2 copies staging into production (its targeting,
    not its on/off state) once approved; stage 3 turns production on once approved and its time has come."""
    writer, reviewer = arena.person(), arena.person()
    flag = "release"
    arena.create_flag(flag)
    variations = ids(arena.get_flag(flag))
    arena.change(flag, DEV, {"kind": "turnFlagOn"}, email_rule(variations[0], "@dev.example"))
    assert _served(arena, STAGING, flag)["rules"] == []

    release_at = int(time.time() * 1000) + 12_000
    body = {
        "name": "Promote release",
        "description": "dev → staging → production",
        "stages": [
            {
                "name": "To staging now",
                "environmentKey": STAGING,
                "conditions": [],
                "action": {"instructions": [{"kind": "copyFlagConfigFrom", "source": {"key": DEV}}]},
            },
            {
                "name": "To production after approval",
                "environmentKey": PRODUCTION,
                "conditions": [{**APPROVAL, "notifyMemberIds": [reviewer.id]}],
                "action": {"instructions": [{"kind": "copyFlagConfigFrom", "excludedActions": ["updateOn"]}]},
            },
            {
                "name": "Production on at release time",
                "environmentKey": PRODUCTION,
                "conditions": [APPROVAL, {"kind": "schedule", "scheduleKind": "absolute", "executionDate": release_at}],
                "action": {"instructions": [{"kind": "turnFlagOn"}]},
            },
        ],
    }
    created = _post(arena, writer, flag, DEV, body)
    assert created.kind == "custom" and created.maintainer_id == writer.id
    assert _stage_statuses(created) == ["active", "active", "pending", "pending"]
    # Creating it changed nothing: its first stage is still active (the scheduler runs it within a second,
    # so what staging serves may already have changed by the time it is read here).

    staging = wait_until(lambda: _served(arena, STAGING, flag)["rules"] and _served(arena, STAGING, flag), timeout=WAIT)
    assert staging["on"] is True and staging["rules"][0]["clauses"][0]["values"] == ["@dev.example"]

    request = _request_of(arena, reviewer, flag, PRODUCTION, 1)
    meta = request.custom_workflow_metadata
    assert (meta.name, meta.stage.name) == ("Promote release", "To production after approval")
    assert request.source.key == STAGING and request.notify_member_ids == [reviewer.id]
    assert _served(arena, PRODUCTION, flag)["rules"] == []
    status, error = refused(
        lambda: arena.approvals(reviewer).post_approval_request_apply(
            request.id, launchdarkly_api.PostApprovalRequestApplyRequest()
        )
    )
    assert status == 400 and "workflow" in error["message"]
    arena.approvals(reviewer).post_approval_request_review(
        request.id, launchdarkly_api.PostApprovalRequestReviewRequest(kind="approve")
    )
    production = wait_until(
        lambda: _served(arena, PRODUCTION, flag)["rules"] and _served(arena, PRODUCTION, flag), timeout=WAIT
    )
    assert production["on"] is False and production["rules"][0]["clauses"][0]["values"] == ["@dev.example"]

    final = _request_of(arena, reviewer, flag, PRODUCTION, 2)
    arena.approvals(reviewer).post_approval_request_review(
        final.id, launchdarkly_api.PostApprovalRequestReviewRequest(kind="approve")
    )
    assert int(time.time() * 1000) < release_at, "arranging took longer than the lead; raise it"
    assert _served(arena, PRODUCTION, flag)["on"] is False  # approved, but not yet time
    wait_until(lambda: _served(arena, PRODUCTION, flag)["on"], timeout=WAIT)
    assert int(time.time() * 1000) >= release_at

    done = _get(arena, writer, flag, DEV, created.id)
    assert _stage_statuses(done) == ["completed"] * 4
    stages = done.stages or []
    assert [c.review_status for c in stages[1].conditions] == ["approved"]
    assert [r.kind for r in stages[1].conditions[0].all_reviews] == ["approve"]
    listing = _workflows(arena, writer).get_workflows(arena.project, flag, DEV, status="completed")
    assert listing.total_count == 1 and [w.id for w in listing.items] == [created.id]
    entries = list(arena.audit(arena.flag_spec(flag, PRODUCTION)))
    applied = [e for e in entries if e["kind"] == "flag" and e.get("approvalRequestId") in (request.id, final.id)]
    assert len(applied) == 2


def _simple(name: str, *conditions: dict[str, Any]) -> launchdarkly_api.CustomWorkflowInput:
    stage = launchdarkly_api.StageInput(
        name="On",
        conditions=[launchdarkly_api.ConditionInput(**c) for c in conditions],
        action=launchdarkly_api.ActionInput(instructions=[{"kind": "turnFlagOn"}]),
    )
    return launchdarkly_api.CustomWorkflowInput(name=name, description="Turn it on", stages=[stage])


def test_the_official_client_creates_lists_gets_and_deletes_workflows(arena: Arena) -> None:
    writer, reviewer = arena.person(), arena.person()
    flag = "checkout"
    arena.create_flag(flag)
    api = _workflows(arena, writer)
    created = api.post_workflow(
        arena.project, flag, PRODUCTION, _simple("Gated", {"kind": "ld-approval", "notify_member_ids": [reviewer.id]})
    )
    assert _stage_statuses(created) == ["active", "active"]
    stage = (created.stages or [])[0]
    assert stage.conditions[0].review_status == "pending" and stage.conditions[0].notify_member_ids == [reviewer.id]
    assert api.get_custom_workflow(arena.project, flag, PRODUCTION, created.id).id == created.id
    listing = api.get_workflows(arena.project, flag, PRODUCTION)
    assert (listing.total_count, [w.id for w in listing.items]) == (1, [created.id])
    assert api.get_workflows(arena.project, flag, STAGING).total_count == 0
    request = _request_of(arena, reviewer, flag, PRODUCTION, 0)

    api.delete_workflow(arena.project, flag, PRODUCTION, created.id)
    assert refused(lambda: api.get_custom_workflow(arena.project, flag, PRODUCTION, created.id))[0] == 404
    assert refused(lambda: arena.approvals(reviewer).get_approval_request(request.id))[0] == 404
    assert _served(arena, PRODUCTION, flag)["on"] is False


def test_refusals(arena: Arena) -> None:
    writer = arena.person()
    flag = "refused"
    arena.create_flag(flag)
    api = _workflows(arena, writer)
    status, error = refused(lambda: api.post_workflow(arena.project, flag, PRODUCTION, _simple("Ungated")))
    assert status == 400 and "requires approval" in error["message"]
    status, error = refused(
        lambda: api.post_workflow(
            arena.project,
            flag,
            STAGING,
            _simple("Past", {"kind": "schedule", "schedule_kind": "absolute", "execution_date": 1}),
        )
    )
    assert status == 400 and "executionDate" in error["message"]
    reader = arena.person("reader")
    assert (
        refused(lambda: _workflows(arena, reader).post_workflow(arena.project, flag, STAGING, _simple("R")))[0] == 403
    )
    assert refused(lambda: api.get_workflows(arena.project, "nope", STAGING))[0] == 404
    assert api.get_workflows(arena.project, flag, STAGING).total_count == 0


def test_a_declined_stage_fails_and_says_why(arena: Arena) -> None:
    writer, reviewer = arena.person(), arena.person()
    flag = "declined"
    arena.create_flag(flag)
    created = _workflows(arena, writer).post_workflow(arena.project, flag, PRODUCTION, _simple("D", APPROVAL))
    request = _request_of(arena, reviewer, flag, PRODUCTION, 0)
    arena.approvals(reviewer).post_approval_request_review(
        request.id, launchdarkly_api.PostApprovalRequestReviewRequest(kind="decline", comment="no")
    )
    failed = wait_until(
        lambda: _get(arena, writer, flag, PRODUCTION, created.id).execution.status == "failed", timeout=WAIT
    )
    assert failed
    raw = arena.http.get(f"{_path(arena, flag, PRODUCTION)}/{created.id}").json()
    assert raw["stages"][0]["_execution"] == {
        "status": "failed",
        "stopDate": raw["stages"][0]["_execution"]["stopDate"],
        "failureReason": "The stage's approval request was declined",
    }
    listing = _workflows(arena, writer).get_workflows(arena.project, flag, PRODUCTION, status="failed")
    assert [w.id for w in listing.items] == [created.id]


def test_a_template_saves_a_pipeline_for_another_flag(arena: Arena) -> None:
    writer, reviewer = arena.person(), arena.person()
    arena.create_flag("first")
    arena.create_flag("second")
    arena.change("second", STAGING, {"kind": "turnFlagOn"})
    templates = WorkflowTemplatesApi(arena.admin)
    key = f"promote-{arena.project}"
    stages = [
        {
            "name": "Promote to production",
            "environmentKey": PRODUCTION,
            "conditions": [APPROVAL],
            "action": {"instructions": [{"kind": "copyFlagConfigFrom", "source": {"key": STAGING}}]},
        }
    ]
    body = {"key": key, "name": "Promote", "stages": stages, "projectKey": arena.project}
    body |= {"environmentKey": STAGING, "flagKey": "first"}
    response = arena.http.post("/api/v2/templates", json=body)
    assert response.status_code == 201, response.text
    listed = templates.get_workflow_templates(search="Promote")
    mine = [t for t in listed.items if t.key == key]
    assert len(mine) == 1 and [s.name for s in mine[0].stages or []] == ["Promote to production"]

    made = _workflows(arena, writer).post_workflow(
        arena.project, "second", STAGING, launchdarkly_api.CustomWorkflowInput(name="From template"), template_key=key
    )
    assert made.template_key == key
    request = _request_of(arena, reviewer, "second", PRODUCTION, 0)
    assert [i["kind"] for i in request.instructions] == ["turnFlagOn"]
    arena.approvals(reviewer).post_approval_request_review(
        request.id, launchdarkly_api.PostApprovalRequestReviewRequest(kind="approve")
    )
    wait_until(lambda: _served(arena, PRODUCTION, "second")["on"], timeout=WAIT)

    from_workflow = templates.create_workflow_template(
        launchdarkly_api.CreateWorkflowTemplateInput(key=f"{key}-copy", workflow_id=made.id)
    )
    assert [s.name for s in from_workflow.stages or []] == ["Promote to production"]
    templates.delete_workflow_template(key)
    templates.delete_workflow_template(f"{key}-copy")
    assert refused(lambda: templates.delete_workflow_template(key))[0] == 404
    assert [t for t in templates.get_workflow_templates().items if t.key == key] == []
