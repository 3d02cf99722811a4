"""Response models: approval requests and approval settings (LaunchDarkly's
``FlagConfigApprovalRequestResponse``, ``ApprovalRequestResponse`` and their expandable and list forms,
and the beta ``ApprovalRequestSettings``)."""

from __future__ import annotations

from typing import Any

from pydantic import ConfigDict, Field, RootModel

from flagward.http.schemas.read_common import (
    REQUIRED_REVIEWERS,
    ApprovalSettings,
    Links,
    Maybe,
    Read,
    RequiredReviewerTeams,
)
from flagward.http.schemas.read_flags import ExpandedFlagRep
from flagward.http.schemas.read_projects import Environment, Project
from flagward.http.schemas.read_segments import UserSegment

INSTRUCTION = "A semantic-patch instruction: an object with a ``kind`` and the fields that kind takes"


class ReviewResponse(Read):
    id: str = Field(alias="_id")
    kind: str
    creationDate: Maybe[int] = None
    comment: Maybe[str] = None
    memberId: Maybe[str] = None
    serviceTokenId: Maybe[str] = None


class Conflict(Read):
    """Another pending request whose instruction this request's instruction overlaps."""

    instruction: Maybe[dict[str, Any]] = Field(default=None, description=INSTRUCTION)
    reason: Maybe[str] = None


class CopiedFromEnv(Read):
    key: str
    version: Maybe[int] = None


class IntegrationStatus(Read):
    value: str = Field(description="The status as the external service names it; approved and declined decide")
    display: str


class IntegrationMetadata(Read):
    """The record an external approval service keeps for this request (its ``serviceKind``)."""

    externalId: str
    externalStatus: IntegrationStatus
    externalUrl: str
    lastChecked: int = Field(description="When flagward last heard from the service about it (ms)")


class RequiredReviewerStatus(Read):
    """flagward: how far one required reviewer team's minimum is met on this request."""

    teamKey: str
    minApprovals: int
    approvals: int = Field(description="Current approvals from the team's members (the requester aside)")
    satisfied: bool


class CustomWorkflowStageMeta(Read):
    index: Maybe[int] = Field(default=None, description="The zero-based index of the workflow stage")
    name: Maybe[str] = None


class CustomWorkflowMeta(Read):
    """The workflow stage this request is the approval condition of; the workflow applies it."""

    name: Maybe[str] = Field(default=None, description="The workflow's name")
    stage: Maybe[CustomWorkflowStageMeta] = None
    workflowId: Maybe[str] = Field(default=None, description="flagward: the workflow's id")


class FlagConfigApprovalRequestResponse(Read):
    """An approval request. ``_links`` names it in the form of the route that answered (flag-scoped or
    top-level), the other form beside it, and the flag or segment it changes."""

    id: str = Field(alias="_id")
    version: int = Field(alias="_version")
    creationDate: int
    serviceKind: str
    requestorId: Maybe[str] = None
    description: Maybe[str] = None
    reviewStatus: str
    allReviews: list[ReviewResponse]
    notifyMemberIds: list[str]
    notifyTeamKeys: Maybe[list[str]] = None
    appliedDate: Maybe[int] = None
    appliedByMemberId: Maybe[str] = None
    appliedByServiceTokenId: Maybe[str] = None
    status: str
    instructions: list[dict[str, Any]] = Field(description=f"{INSTRUCTION}s")
    conflicts: list[Conflict]
    links: Links = Field(alias="_links")
    executionDate: Maybe[int] = None
    operatingOnId: Maybe[str] = None
    source: Maybe[CopiedFromEnv] = None
    integrationMetadata: Maybe[IntegrationMetadata] = None
    requiredReviewers: Maybe[list[RequiredReviewerStatus]] = Field(
        default=None,
        description="flagward: the required reviewer teams of the environment when the request was made, and "
        "how far each is met; reviewStatus is approved only once every one is satisfied (and minNumApprovals "
        "is met). Absent when there were none. LaunchDarkly's clients ignore it.",
    )
    customWorkflowMetadata: Maybe[CustomWorkflowMeta] = None


class FlagConfigApprovalRequestsResponse(Read):
    items: list[FlagConfigApprovalRequestResponse]
    links: Links = Field(alias="_links")


class ApprovalRequestResponse(FlagConfigApprovalRequestResponse):
    resourceId: Maybe[str] = None
    approvalSettings: Maybe[ApprovalSettings] = None


class ExpandedResourceRep(Read):
    kind: str
    flag: Maybe[ExpandedFlagRep] = None
    segment: Maybe[UserSegment] = None


class ExpandableApprovalRequestResponse(ApprovalRequestResponse):
    """An approval request with the expansions asked for (``expand=flag,project,environments,resource``)."""

    project: Maybe[Project] = None
    environments: Maybe[list[Environment]] = None
    flag: Maybe[ExpandedFlagRep] = None
    resource: Maybe[ExpandedResourceRep] = None


class ExpandableApprovalRequestsResponse(Read):
    items: list[ExpandableApprovalRequestResponse]
    totalCount: int
    links: Links = Field(alias="_links")


class ApprovalRequestSetting(Read):
    required: bool
    bypassApprovalsForPendingChanges: bool
    minNumApprovals: int
    canReviewOwnRequest: bool
    canApplyDeclinedChanges: bool
    autoApplyApprovedChanges: Maybe[bool] = None
    serviceKind: str
    serviceConfig: dict[str, Any]
    requiredApprovalTags: list[str]
    serviceKindConfigurationId: Maybe[str] = None
    requiredReviewers: Maybe[RequiredReviewerTeams] = Field(default=None, description=REQUIRED_REVIEWERS)


class ApprovalRequestSettingWithEnvs(Read):
    """One resource kind's settings: per environment, and the default new environments get (``_default``,
    in the answer to GET only)."""

    environments: Maybe[dict[str, ApprovalRequestSetting]] = None
    default: Maybe[ApprovalRequestSetting] = Field(default=None, alias="_default")


class ApprovalRequestSettings(RootModel[dict[str, ApprovalRequestSettingWithEnvs]]):
    """Approval settings by resource kind (``flag``, ``segment``)."""

    model_config = ConfigDict(strict=True)
