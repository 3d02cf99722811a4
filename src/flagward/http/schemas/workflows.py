"""Workflows and workflow templates: LaunchDarkly's ``CustomWorkflowInput``/``CustomWorkflowOutput``,
``StageInput``/``StageOutput``, ``ConditionInput``/``ConditionOutput``, ``ExecutionOutput`` and the
template shapes, with flagward's own promotion fields (``environmentKey`` on a stage, the
``copyFlagConfigFrom`` instruction, ``minNumApprovals`` on an approval condition, ``failureReason``)."""

from __future__ import annotations

from typing import Any

from pydantic import Field, StrictBool, StrictInt, StrictStr

from flagward.http.schemas.common import Body
from flagward.http.schemas.read_approvals import ReviewResponse
from flagward.http.schemas.read_common import Links, Maybe, Read

INSTRUCTIONS = (
    "Semantic-patch instructions for the flag in the stage's environment, or flagward's own promotion: one "
    '``{"kind": "copyFlagConfigFrom", "source": {"key": "staging"}, "includedActions"|"excludedActions": '
    "[...]}`` that copies the flag's configuration from ``source`` (by default the previous stage's "
    "environment) as an approval-request copy would, under the target environment's approval policy"
)


class ConditionInput(Body):
    kind: StrictStr = Field(description="schedule or ld-approval")
    scheduleKind: StrictStr | None = Field(default=None, description="absolute or relative")
    executionDate: StrictInt | None = None
    waitDuration: StrictInt | None = Field(default=None, description="For relative schedules, from the stage's start")
    waitDurationUnit: StrictStr | None = Field(default=None, description="minute, hour, calendarDay or calendarWeek")
    executeNow: StrictBool | None = None
    description: StrictStr | None = None
    notifyMemberIds: list[StrictStr] | None = None
    notifyTeamKeys: list[StrictStr] | None = None
    minNumApprovals: StrictInt | None = Field(
        default=None,
        description="flagward: approvals the stage needs, if more than its environment's minimum (1 to 5)",
    )


class ActionInput(Body):
    instructions: list[dict[str, Any]] = Field(description=INSTRUCTIONS)


class StageInput(Body):
    name: StrictStr
    executeConditionsInSequence: StrictBool | None = None
    conditions: list[ConditionInput] | None = None
    action: ActionInput
    environmentKey: StrictStr | None = Field(
        default=None, description="flagward: the environment this stage changes (default: the workflow's)"
    )

    def document(self) -> dict[str, Any]:
        return self.model_dump(exclude_unset=True, exclude_none=True)


class CustomWorkflowInput(Body):
    name: StrictStr
    description: StrictStr | None = None
    maintainerId: StrictStr | None = None
    stages: list[StageInput] | None = None
    templateKey: StrictStr | None = None


class CreateWorkflowTemplateInput(Body):
    key: StrictStr
    name: StrictStr | None = None
    description: StrictStr | None = None
    workflowId: StrictStr | None = None
    stages: list[StageInput] | None = None
    projectKey: StrictStr | None = None
    environmentKey: StrictStr | None = None
    flagKey: StrictStr | None = None


class ExecutionOutput(Read):
    status: str = Field(description="pending, active, completed or failed")
    stopDate: Maybe[int] = None
    failureReason: Maybe[str] = Field(default=None, description="flagward: why a stage (or condition) failed")


class ConditionOutput(Read):
    id: str = Field(alias="_id")
    kind: Maybe[str] = None
    execution: ExecutionOutput = Field(alias="_execution")
    scheduleKind: Maybe[str] = None
    executionDate: Maybe[int] = None
    waitDuration: Maybe[int] = None
    waitDurationUnit: Maybe[str] = None
    description: str
    notifyMemberIds: list[str]
    allReviews: list[ReviewResponse]
    reviewStatus: str
    appliedDate: Maybe[int] = None
    approvalRequestId: Maybe[str] = Field(default=None, description="flagward: the stage's approval request")
    minNumApprovals: Maybe[int] = None


class ActionOutput(Read):
    kind: str
    instructions: list[dict[str, Any]]


class StageOutput(Read):
    id: str = Field(alias="_id")
    name: Maybe[str] = None
    conditions: list[ConditionOutput]
    action: ActionOutput
    execution: ExecutionOutput = Field(alias="_execution")
    environmentKey: Maybe[str] = Field(default=None, description="flagward: the environment this stage changes")


class CustomWorkflowOutput(Read):
    id: str = Field(alias="_id")
    version: int = Field(alias="_version")
    conflicts: list[dict[str, Any]] = Field(alias="_conflicts")
    creationDate: int = Field(alias="_creationDate")
    maintainerId: str = Field(alias="_maintainerId")
    links: Links = Field(alias="_links")
    name: str
    description: Maybe[str] = None
    kind: Maybe[str] = None
    stages: Maybe[list[StageOutput]] = None
    execution: ExecutionOutput = Field(alias="_execution")
    templateKey: Maybe[str] = None


class CustomWorkflowsListingOutput(Read):
    items: list[CustomWorkflowOutput]
    totalCount: int
    links: Links = Field(alias="_links")


class WorkflowTemplateOutput(Read):
    id: str = Field(alias="_id")
    key: str = Field(alias="_key")
    name: Maybe[str] = None
    creationDate: int = Field(alias="_creationDate")
    ownerId: str = Field(alias="_ownerId")
    maintainerId: str = Field(alias="_maintainerId")
    links: Links = Field(alias="_links")
    description: Maybe[str] = None
    stages: Maybe[list[StageOutput]] = None


class WorkflowTemplatesListingOutputRep(Read):
    items: list[WorkflowTemplateOutput]
