"""Workflow stages run exactly once while two server processes (two schedulers) share one store: several
workflows whose first stage (approved beforehand) falls due at the same moment, each followed by a stage
with no condition that runs as soon as the first completes."""

from __future__ import annotations

import time

import launchdarkly_api
import pytest
from launchdarkly_api.api.workflows_api import WorkflowsApi

from tests.integration import test_scheduling
from tests.support.approvals import STAGING, Arena
from tests.support.sdk import wait_until
from tests.support.server import ServerProcess

pytestmark = pytest.mark.slow
two_servers = test_scheduling.two_servers  # the same two processes (one on SQLite) as scheduled requests
LEAD_MS = 6000  # how far ahead the stages fall due: long enough to arrange them all first
WORKFLOWS = 4
NAME = "Release together"


def _input(when: int) -> launchdarkly_api.CustomWorkflowInput:
    def action(kind: str) -> launchdarkly_api.ActionInput:
        return launchdarkly_api.ActionInput(instructions=[{"kind": kind}])

    approval = launchdarkly_api.ConditionInput(kind="ld-approval")
    schedule = launchdarkly_api.ConditionInput(kind="schedule", schedule_kind="absolute", execution_date=when)
    stages = [
        launchdarkly_api.StageInput(
            name="On at the planned time", conditions=[approval, schedule], action=action("turnFlagOn")
        ),
        launchdarkly_api.StageInput(name="Then off", conditions=[], action=action("turnFlagOff")),
    ]
    return launchdarkly_api.CustomWorkflowInput(name=NAME, stages=stages)


def test_workflow_stages_due_together_each_run_once_across_two_schedulers(
    two_servers: tuple[ServerProcess, ServerProcess],
) -> None:
    first, second = two_servers
    arena = Arena(first.url, first.admin_token)
    other = Arena(second.url, second.admin_token, recorder=arena.recorder)
    arena.create_project()
    requester, reviewer = arena.person(), arena.person()
    when = int(time.time() * 1000) + LEAD_MS
    made: dict[str, tuple[str, str]] = {}
    for i in range(WORKFLOWS):
        flag = f"wf-{i}"
        arena.create_flag(flag)
        api = WorkflowsApi((other if i % 2 else arena).client(requester))
        workflow = api.post_workflow(arena.project, flag, STAGING, _input(when))
        (request,) = arena.approvals(reviewer).get_approvals_for_flag(arena.project, flag, STAGING).items
        arena.approvals(reviewer).post_approval_request_review(
            request.id, launchdarkly_api.PostApprovalRequestReviewRequest(kind="approve")
        )
        made[flag] = (workflow.id, request.id)
    assert int(time.time() * 1000) < when, "arranging took longer than the lead; raise LEAD_MS"
    before = {flag: arena.get_flag(flag)["environments"][STAGING] for flag in made}
    assert all(config["on"] is False for config in before.values())
    api = WorkflowsApi(arena.client(requester))

    def statuses() -> set[str]:
        return {api.get_custom_workflow(arena.project, f, STAGING, w).execution.status for f, (w, _) in made.items()}

    wait_until(lambda: statuses() == {"completed"}, timeout=LEAD_MS / 1000 + 30, interval=0.2)
    time.sleep(float(test_scheduling.INTERVAL) * 5)  # both schedulers get more chances to run anything twice

    for flag, (workflow_id, request_id) in made.items():
        config = arena.get_flag(flag)["environments"][STAGING]
        assert config["on"] is False and config["version"] == before[flag]["version"] + 2  # on, then off: once each
        assert config["lastModified"] >= when  # not early
        changes = [e for e in arena.audit(arena.flag_spec(flag, STAGING)) if e["kind"] == "flag"]
        assert len([e for e in changes if e.get("approvalRequestId") == request_id]) == 1
        assert len([e for e in changes if f"'{NAME}', stage 2" in (e.get("comment") or "")]) == 1
        assert arena.approvals(reviewer).get_approval_request(request_id).status == "completed"
        workflow = api.get_custom_workflow(arena.project, flag, STAGING, workflow_id)
        assert [s.execution.status for s in workflow.stages or []] == ["completed", "completed"]
    other.close()
    arena.close()
