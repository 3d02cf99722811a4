from __future__ import annotations

from typing import Any

from pydantic import Field, StrictInt, StrictStr

from flagward.domain.approvals import CopySource
from flagward.domain.copy import APPROVAL_COPY_ACTIONS, parse_actions
from flagward.http.schemas.common import Body
from flagward.services.approvals import NewCopyRequest, NewRequest


class CreateFlagConfigApprovalRequestRequest(Body):
    description: StrictStr
    instructions: list[dict[str, Any]]
    comment: StrictStr | None = None
    notifyMemberIds: list[StrictStr] = Field(default_factory=list)
    notifyTeamKeys: list[StrictStr] = Field(default_factory=list)
    executionDate: StrictInt | None = None
    operatingOnId: StrictStr | None = None
    integrationConfig: dict[str, Any] | None = None

    def to_domain(self) -> NewRequest:
        return NewRequest(
            description=self.description,
            instructions=self.instructions,
            comment=self.comment,
            notify_member_ids=list(self.notifyMemberIds),
            notify_team_keys=list(self.notifyTeamKeys),
            execution_date=self.executionDate,
            operating_on_id=self.operatingOnId,
        )


class CreateApprovalRequestRequest(CreateFlagConfigApprovalRequestRequest):
    resourceId: StrictStr = Field(
        description="proj/P:env/E:flag/F or proj/P:env/E:segment/S: a segment's request takes the segment "
        "instructions of PATCH /api/v2/segments/{projectKey}/{environmentKey}/{segmentKey}, flagward's own "
        "replaceSegmentConfiguration included"
    )


class SourceEnv(Body):
    key: StrictStr
    version: StrictInt | None = None


class CreateCopyFlagConfigApprovalRequestRequest(Body):
    description: StrictStr
    source: SourceEnv
    comment: StrictStr | None = None
    notifyMemberIds: list[StrictStr] = Field(default_factory=list)
    notifyTeamKeys: list[StrictStr] = Field(default_factory=list)
    includedActions: list[StrictStr] | None = None
    excludedActions: list[StrictStr] | None = None

    def to_domain(self) -> NewCopyRequest:
        included = (
            parse_actions(self.includedActions, "includedActions", APPROVAL_COPY_ACTIONS)
            if self.includedActions is not None
            else None
        )
        excluded = (
            parse_actions(self.excludedActions, "excludedActions", APPROVAL_COPY_ACTIONS)
            if self.excludedActions is not None
            else None
        )
        return NewCopyRequest(
            description=self.description,
            source=CopySource(self.source.key, self.source.version),
            comment=self.comment,
            notify_member_ids=list(self.notifyMemberIds),
            notify_team_keys=list(self.notifyTeamKeys),
            included=included,
            excluded=excluded,
        )


class PostApprovalRequestReviewRequest(Body):
    kind: StrictStr | None = None
    comment: StrictStr | None = None


class PostApprovalRequestApplyRequest(Body):
    comment: StrictStr | None = None


# flagward's own: what an external approval service reports about its record of a request. Written out
# (not a model) because the route reads the exact bytes that were signed, before anything parses them.
INTEGRATION_CALLBACK_BODY: dict[str, Any] = {
    "type": "object",
    "title": "IntegrationCallbackBody",
    "required": ["externalId", "status"],
    "properties": {
        "externalId": {"type": "string", "description": "The service's id of its record"},
        "status": {
            "type": "object",
            "required": ["value"],
            "properties": {
                "value": {
                    "type": "string",
                    "description": "approved or declined decide the request; any other value is recorded",
                },
                "display": {"type": "string", "description": "The status in words (default: value)"},
            },
        },
        "externalUrl": {"type": "string", "description": "Where people see the record"},
        "comment": {"type": "string", "description": "Kept with the service's review"},
    },
}
