"""The workflow state machine: parsing stage inputs (all or nothing, naming the field), when a stage is
due, and the transitions of stages and of the workflow."""

from __future__ import annotations

from typing import Any

import pytest

from flagward.domain import workflows as wf
from flagward.domain.errors import InvalidRequest
from flagward.domain.workflows import ExecutionStatus, Workflow

NOW = 1_700_000_000_000
ON = {"kind": "turnFlagOn"}


def _stage(*conditions: dict[str, Any], name: str = "Stage", instructions: Any = None) -> dict[str, Any]:
    action = {"instructions": [ON] if instructions is None else instructions}
    return {"name": name, "conditions": list(conditions), "action": action}


def _workflow(*stages: dict[str, Any]) -> Workflow:
    return Workflow(
        id="w" * 24,
        project_key="shop",
        flag_key="checkout",
        environment_key="dev",
        name="Release",
        description="",
        creation_date=NOW,
        stages=wf.parse_stages(list(stages), now=NOW),
    )


@pytest.mark.parametrize(
    ("stages", "message"),
    [
        ([], "non-empty list"),
        ([{"conditions": [], "action": {"instructions": [ON]}}], r"stages\[0\]\.name"),
        ([_stage(instructions=[])], r"stages\[0\]\.action\.instructions"),
        ([_stage({"kind": "webhook"})], r"stages\[0\]\.conditions\[0\]\.kind"),
        ([_stage({"kind": "schedule", "executionDate": NOW - 1})], "in the past"),
        ([_stage({"kind": "schedule", "waitDuration": 1, "waitDurationUnit": "fortnight"})], "waitDurationUnit"),
        ([_stage({"kind": "ld-approval", "minNumApprovals": 9})], "minNumApprovals"),
        ([_stage({"kind": "schedule", "executionDate": 2**63})], "executionDate"),
        ([_stage({"kind": "schedule", "waitDuration": 2**40, "waitDurationUnit": "calendarWeek"})], "at most a year"),
        ([_stage({"kind": "ld-approval"}, {"kind": "ld-approval"})], "at most one"),
        ([_stage(instructions=[{"kind": "copyFlagConfigFrom"}, ON])], "only instruction"),
        ([_stage(), _stage({"kind": "ld-approval", "notifyMemberIds": "m1"})], r"stages\[1\].*notifyMemberIds"),
    ],
)
def test_bad_stages_are_refused_naming_the_field(stages: list[Any], message: str) -> None:
    with pytest.raises(InvalidRequest, match=message):
        wf.parse_stages(stages, now=NOW)


def test_when_a_stage_is_due() -> None:
    absolute = wf.parse_stages([_stage({"kind": "schedule", "executionDate": NOW + 5})], now=NOW)[0]
    relative = wf.parse_stages(
        [_stage({"kind": "schedule", "scheduleKind": "relative", "waitDuration": 2, "waitDurationUnit": "hour"})],
        now=NOW,
    )[0]
    now = wf.parse_stages([_stage({"kind": "schedule", "executeNow": True})], now=NOW)[0]
    assert wf.due_time(absolute.schedule, NOW + 100) == NOW + 5
    assert wf.due_time(relative.schedule, NOW + 100) == NOW + 100 + 2 * 3_600_000
    assert wf.due_time(now.schedule, NOW + 100) == NOW + 100
    assert wf.due_time(None, NOW + 100) == NOW + 100


def test_stages_complete_in_order_and_then_the_workflow() -> None:
    workflow = _workflow(_stage(name="One"), _stage({"kind": "ld-approval"}, name="Two"))
    wf.start_stage(workflow, 0, now=NOW)
    assert workflow.active_index() == 0 and workflow.wake_at() == NOW
    following = wf.complete_stage(workflow, 0, now=NOW + 1)
    assert following is workflow.stages[1] and workflow.status is ExecutionStatus.ACTIVE
    wf.start_stage(workflow, 1, now=NOW + 1)
    wf.wait_for_approval(workflow.stages[1], now=NOW + 2)
    assert workflow.wake_at() == NOW + 2 + wf.APPROVAL_RECHECK_MS
    assert wf.complete_stage(workflow, 1, now=NOW + 3) is None
    assert workflow.status is ExecutionStatus.COMPLETED and workflow.stop_date == NOW + 3
    assert workflow.wake_at() is None
    assert [c.status for c in workflow.stages[1].conditions] == [ExecutionStatus.COMPLETED]


def test_a_failed_stage_stops_the_workflow_and_keeps_its_reason() -> None:
    workflow = _workflow(_stage({"kind": "ld-approval"}), _stage())
    wf.start_stage(workflow, 0, now=NOW)
    wf.fail_stage(workflow, 0, "declined", now=NOW + 1)
    stage = workflow.stages[0]
    assert (stage.status, stage.failure_reason, stage.stop_date) == (ExecutionStatus.FAILED, "declined", NOW + 1)
    assert stage.conditions[0].status is ExecutionStatus.FAILED
    assert workflow.status is ExecutionStatus.FAILED and workflow.wake_at() is None
    assert workflow.stages[1].status is ExecutionStatus.PENDING


def test_a_copy_reads_from_the_previous_stage_environment_unless_told() -> None:
    copy = {"kind": "copyFlagConfigFrom"}
    workflow = _workflow(
        {**_stage(instructions=[copy]), "environmentKey": "staging"},
        {**_stage(instructions=[copy]), "environmentKey": "production"},
        {**_stage(instructions=[{**copy, "source": {"key": "dev"}}]), "environmentKey": "production"},
    )
    assert [workflow.source_env(i) for i in range(3)] == ["dev", "staging", "dev"]
    assert [workflow.stage_env(i) for i in range(3)] == ["staging", "production", "production"]


def test_a_stage_round_trips_through_its_input_document() -> None:
    raw = {
        "name": "Promote",
        "environmentKey": "production",
        "conditions": [
            {
                "kind": "ld-approval",
                "description": "",
                "notifyMemberIds": ["m1"],
                "notifyTeamKeys": [],
                "minNumApprovals": 2,
            },
            {"kind": "schedule", "scheduleKind": "relative", "waitDuration": 3, "waitDurationUnit": "minute"},
        ],
        "action": {"instructions": [{"kind": "copyFlagConfigFrom", "excludedActions": ["updateOn"]}]},
    }
    (stage,) = wf.parse_stages([raw], now=None)
    assert wf.stage_input(stage) == raw
