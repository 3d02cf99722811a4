"""Workflows: a flag's change carried out in ordered stages, each waiting for its conditions (an approval,
a time, or both) before its action (semantic-patch instructions) is applied.

The state machine is pure: the services start stages, create their approval requests and apply their
actions through the write path; this module decides what is due and records what happened.

Decisions (where LaunchDarkly documents only intent):

- A workflow is ``active`` until its last stage completes (``completed``) or one stage fails
  (``failed``: the workflow stops there; the stage says why in ``failureReason``).
- Stages run in order; stage ``i + 1`` becomes ``active`` when stage ``i`` completes. A stage's
  relative schedule (``waitDuration``) counts from that moment; an absolute one (``executionDate``)
  from the epoch. With no schedule a stage is due as soon as it is active.
- An approval condition is an approval request made when the stage becomes active, carrying
  ``customWorkflowMetadata``. The stage's action is applied when that request is approved (enough
  approvals for the stage's environment, or for the condition's own ``minNumApprovals`` if higher) and
  the schedule's time has come; a decline fails the stage, as does the request's deletion.
- flagward's own: a stage may name another environment of the flag's project (``environmentKey``) and
  its action may copy the flag's configuration from another environment (``copyFlagConfigFrom``, by
  default from the previous stage's environment) — promotion, under the target's own approval policy.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from flagward.domain.errors import InvalidRequest
from flagward.domain.ids import check_name_length, new_object_id

COPY_KIND = "copyFlagConfigFrom"
APPROVAL_KIND = "ld-approval"
SCHEDULE_KIND = "schedule"
MAX_STAGES = 20
MAX_DATE = 253_402_300_799_999  # 9999-12-31T23:59:59.999Z, LaunchDarkly's latest date
MAX_WAIT_MS = 366 * 86_400_000  # a relative schedule waits at most a year
MAX_DESCRIPTION = 5000
APPROVAL_RECHECK_MS = 2000  # how often a stage waiting for its approval looks at its request again
_UNIT_MS = {
    "minute": 60_000,
    "hour": 3_600_000,
    "calendarDay": 86_400_000,
    "calendarWeek": 7 * 86_400_000,
}


class ExecutionStatus(StrEnum):
    PENDING = "pending"
    ACTIVE = "active"
    COMPLETED = "completed"
    FAILED = "failed"


@dataclass
class Condition:
    """A schedule (``scheduleKind`` absolute with ``executionDate``, or relative with ``waitDuration``
    and ``waitDurationUnit``) or an approval (``ld-approval``: reviewers, an optional minimum)."""

    id: str
    kind: str
    schedule_kind: str | None = None
    execution_date: int | None = None
    wait_duration: int | None = None
    wait_duration_unit: str | None = None
    execute_now: bool = False
    description: str = ""
    notify_member_ids: list[str] = field(default_factory=list)
    notify_team_keys: list[str] = field(default_factory=list)
    min_num_approvals: int | None = None
    status: ExecutionStatus = ExecutionStatus.PENDING
    stop_date: int | None = None


@dataclass
class Stage:
    id: str
    name: str
    conditions: list[Condition]
    instructions: list[dict[str, Any]]
    environment_key: str | None = None  # None: the workflow's environment
    status: ExecutionStatus = ExecutionStatus.PENDING
    started_at: int | None = None
    due_at: int | None = None  # when its schedule allows the action (set when it becomes active)
    recheck_at: int | None = None  # when to look again at an approval not yet given
    stop_date: int | None = None
    failure_reason: str | None = None
    approval_request_id: str | None = None

    @property
    def approval(self) -> Condition | None:
        return next((c for c in self.conditions if c.kind == APPROVAL_KIND), None)

    @property
    def schedule(self) -> Condition | None:
        return next((c for c in self.conditions if c.kind == SCHEDULE_KIND), None)

    @property
    def copies(self) -> dict[str, Any] | None:
        """The stage's copy instruction, if its action is a promotion."""
        return next((i for i in self.instructions if i.get("kind") == COPY_KIND), None)


@dataclass
class Workflow:
    id: str
    project_key: str
    flag_key: str
    environment_key: str
    name: str
    description: str
    creation_date: int
    stages: list[Stage]
    maintainer_id: str | None = None
    requestor_id: str | None = None  # who made it: its stages act on their behalf
    flag_id: str | None = None  # the flag it was made for (not a later flag with the same key)
    requestor_token_id: str | None = None
    template_key: str | None = None
    status: ExecutionStatus = ExecutionStatus.ACTIVE
    stop_date: int | None = None
    version: int = 1

    def stage_env(self, index: int) -> str:
        return self.stages[index].environment_key or self.environment_key

    def active_index(self) -> int | None:
        return next((i for i, s in enumerate(self.stages) if s.status is ExecutionStatus.ACTIVE), None)

    def wake_at(self) -> int | None:
        """When the scheduler should next look at this workflow (None: never again)."""
        index = self.active_index()
        if self.status is not ExecutionStatus.ACTIVE or index is None:
            return None
        stage = self.stages[index]
        return max(stage.due_at or 0, stage.recheck_at or 0)

    def source_env(self, index: int) -> str:
        """Where stage ``index``'s copy reads from: its instruction's ``source.key``, else the previous
        stage's environment (the workflow's own for the first stage)."""
        source = (self.stages[index].copies or {}).get("source")
        if isinstance(source, dict) and isinstance(source.get("key"), str):
            return str(source["key"])
        return self.stage_env(index - 1) if index > 0 else self.environment_key


def due_time(condition: Condition | None, started_at: int) -> int:
    """When a stage that became active at ``started_at`` may act, under its schedule."""
    if condition is None or condition.execute_now:
        return started_at
    if condition.schedule_kind == "absolute":
        return int(condition.execution_date or started_at)
    return started_at + int(condition.wait_duration or 0) * _UNIT_MS[condition.wait_duration_unit or "minute"]


def start_stage(workflow: Workflow, index: int, *, now: int) -> Stage:
    stage = workflow.stages[index]
    stage.status = ExecutionStatus.ACTIVE
    stage.started_at = now
    stage.due_at = due_time(stage.schedule, now)
    workflow.version += 1
    return stage


def complete_stage(workflow: Workflow, index: int, *, now: int) -> Stage | None:
    """Mark stage ``index`` (and its conditions) completed; the next stage, if any, to be started by the
    caller (or the workflow completed)."""
    stage = workflow.stages[index]
    stage.status, stage.stop_date = ExecutionStatus.COMPLETED, now
    for condition in stage.conditions:
        condition.status, condition.stop_date = ExecutionStatus.COMPLETED, now
    workflow.version += 1
    if index + 1 < len(workflow.stages):
        return workflow.stages[index + 1]
    workflow.status, workflow.stop_date = ExecutionStatus.COMPLETED, now
    return None


def fail_stage(workflow: Workflow, index: int, reason: str, *, now: int) -> None:
    """The stage failed for ``reason``; the workflow stops there."""
    stage = workflow.stages[index]
    stage.status, stage.stop_date, stage.failure_reason = ExecutionStatus.FAILED, now, reason
    approval = stage.approval
    if approval is not None and approval.status is ExecutionStatus.PENDING:
        approval.status, approval.stop_date = ExecutionStatus.FAILED, now
    workflow.status, workflow.stop_date = ExecutionStatus.FAILED, now
    workflow.version += 1


def wait_for_approval(stage: Stage, *, now: int) -> None:
    """The stage's request is not approved yet: look again a little later (not at every scheduler run)."""
    stage.recheck_at = now + APPROVAL_RECHECK_MS


def mark_schedule_met(stage: Stage, *, now: int) -> None:
    schedule = stage.schedule
    if schedule is not None and schedule.status is ExecutionStatus.PENDING:
        schedule.status, schedule.stop_date = ExecutionStatus.COMPLETED, now


# -- parsing the wire's stage inputs ---------------------------------------------------------------


def parse_stages(raw: object, *, now: int | None) -> list[Stage]:
    """``StageInput``s (as JSON) to stages, all or nothing. ``now`` (None for templates) rejects an
    absolute schedule in the past. Raises InvalidRequest naming the stage and the field."""
    if not isinstance(raw, list) or not raw:
        raise InvalidRequest("stages must be a non-empty list")
    if len(raw) > MAX_STAGES:
        raise InvalidRequest(f"stages: a workflow has at most {MAX_STAGES} stages")
    return [_stage(item, f"stages[{i}]", now) for i, item in enumerate(raw)]


def _stage(raw: object, where: str, now: int | None) -> Stage:
    if not isinstance(raw, dict):
        raise InvalidRequest(f"{where} must be an object")
    name = raw.get("name")
    if not isinstance(name, str) or not name.strip():
        raise InvalidRequest(f"{where}.name is required")
    check_name_length(name, field=f"{where}.name")
    env_key = raw.get("environmentKey")
    if env_key is not None and (not isinstance(env_key, str) or not env_key):
        raise InvalidRequest(f"{where}.environmentKey must be an environment key")
    conditions_raw = raw.get("conditions") or []
    if not isinstance(conditions_raw, list):
        raise InvalidRequest(f"{where}.conditions must be a list")
    conditions = [_condition(c, f"{where}.conditions[{i}]", now) for i, c in enumerate(conditions_raw)]
    for kind in (APPROVAL_KIND, SCHEDULE_KIND):
        if sum(1 for c in conditions if c.kind == kind) > 1:
            raise InvalidRequest(f"{where}.conditions: at most one '{kind}' condition per stage")
    action = raw.get("action")
    instructions = action.get("instructions") if isinstance(action, dict) else None
    if not isinstance(instructions, list) or not instructions or not all(isinstance(i, dict) for i in instructions):
        raise InvalidRequest(f"{where}.action.instructions must be a non-empty list of instruction objects")
    copies = [i for i in instructions if i.get("kind") == COPY_KIND]
    if copies and len(instructions) > 1:
        raise InvalidRequest(f"{where}.action: a '{COPY_KIND}' instruction must be the stage's only instruction")
    return Stage(
        id=new_object_id(),
        name=name,
        conditions=conditions,
        instructions=[dict(i) for i in instructions],
        environment_key=env_key,
    )


def _condition(raw: object, where: str, now: int | None) -> Condition:
    if not isinstance(raw, dict):
        raise InvalidRequest(f"{where} must be an object")
    kind = raw.get("kind")
    if kind == SCHEDULE_KIND:
        return _schedule(raw, where, now)
    if kind == APPROVAL_KIND:
        return _approval(raw, where)
    raise InvalidRequest(f"{where}.kind must be '{SCHEDULE_KIND}' or '{APPROVAL_KIND}', not {kind!r}")


def _schedule(raw: dict[str, Any], where: str, now: int | None) -> Condition:
    execute_now = raw.get("executeNow") is True
    schedule_kind = raw.get("scheduleKind") or ("absolute" if "executionDate" in raw else "relative")
    condition = Condition(id=new_object_id(), kind=SCHEDULE_KIND, schedule_kind=schedule_kind, execute_now=execute_now)
    if execute_now:
        return condition
    if schedule_kind == "absolute":
        date = raw.get("executionDate")
        if not isinstance(date, int) or isinstance(date, bool) or not 0 < date <= MAX_DATE:
            raise InvalidRequest(f"{where}.executionDate must be a time in ms since the epoch")
        if now is not None and date < now:
            raise InvalidRequest(f"{where}.executionDate is in the past")
        condition.execution_date = date
        return condition
    if schedule_kind != "relative":
        raise InvalidRequest(f"{where}.scheduleKind must be 'absolute' or 'relative'")
    duration, unit = raw.get("waitDuration"), raw.get("waitDurationUnit") or "minute"
    if not isinstance(duration, int) or isinstance(duration, bool) or duration < 0:
        raise InvalidRequest(f"{where}.waitDuration must be a non-negative integer")
    if unit not in _UNIT_MS:
        raise InvalidRequest(f"{where}.waitDurationUnit must be one of {', '.join(_UNIT_MS)}")
    if duration * _UNIT_MS[unit] > MAX_WAIT_MS:
        raise InvalidRequest(f"{where}.waitDuration: a stage waits at most a year")
    condition.wait_duration, condition.wait_duration_unit = duration, unit
    return condition


def _approval(raw: dict[str, Any], where: str) -> Condition:
    members, teams = raw.get("notifyMemberIds") or [], raw.get("notifyTeamKeys") or []
    for name, value in (("notifyMemberIds", members), ("notifyTeamKeys", teams)):
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise InvalidRequest(f"{where}.{name} must be a list of strings")
    minimum = raw.get("minNumApprovals")
    if minimum is not None and (not isinstance(minimum, int) or isinstance(minimum, bool) or not 1 <= minimum <= 5):
        raise InvalidRequest(f"{where}.minNumApprovals must be an integer from 1 to 5")
    description = raw.get("description") or ""
    if not isinstance(description, str) or len(description) > MAX_DESCRIPTION:
        raise InvalidRequest(f"{where}.description must be a string of at most {MAX_DESCRIPTION} characters")
    return Condition(
        id=new_object_id(),
        kind=APPROVAL_KIND,
        description=description,
        notify_member_ids=list(dict.fromkeys(members)),
        notify_team_keys=list(dict.fromkeys(teams)),
        min_num_approvals=minimum,
    )


def stage_input(stage: Stage) -> dict[str, Any]:
    """A stage as the ``StageInput`` that makes it again (templates keep these): no ids, no state."""
    doc: dict[str, Any] = {
        "name": stage.name,
        "conditions": [condition_input(c) for c in stage.conditions],
        "action": {"instructions": [dict(i) for i in stage.instructions]},
    }
    if stage.environment_key is not None:
        doc["environmentKey"] = stage.environment_key
    return doc


def condition_input(condition: Condition) -> dict[str, Any]:
    doc: dict[str, Any] = {"kind": condition.kind}
    if condition.kind == SCHEDULE_KIND:
        doc["scheduleKind"] = condition.schedule_kind
        if condition.execute_now:
            doc["executeNow"] = True
        for key, value in (
            ("executionDate", condition.execution_date),
            ("waitDuration", condition.wait_duration),
            ("waitDurationUnit", condition.wait_duration_unit),
        ):
            if value is not None:
                doc[key] = value
        return doc
    doc.update(
        description=condition.description,
        notifyMemberIds=list(condition.notify_member_ids),
        notifyTeamKeys=list(condition.notify_team_keys),
    )
    if condition.min_num_approvals is not None:
        doc["minNumApprovals"] = condition.min_num_approvals
    return doc


@dataclass
class Template:
    """A saved pipeline of stages (as their ``StageInput``s), to make workflows on any flag."""

    id: str
    key: str
    name: str
    description: str
    creation_date: int
    stages: list[dict[str, Any]]
    owner_id: str | None = None
    maintainer_id: str | None = None
