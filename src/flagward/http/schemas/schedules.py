"""Scheduled changes and expiring targets: LaunchDarkly's request and response shapes."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr

from flagward.http.schemas.read_common import Links, Maybe, Read


class PostFlagScheduledChangesInput(BaseModel):
    model_config = ConfigDict(extra="forbid")
    comment: StrictStr | None = None
    executionDate: StrictInt
    instructions: list[dict[str, Any]]


class FlagScheduledChangesInput(BaseModel):
    model_config = ConfigDict(extra="forbid")
    comment: StrictStr | None = None
    instructions: list[dict[str, Any]]


class FeatureFlagScheduledChange(Read):
    id: str = Field(alias="_id")
    creationDate: int = Field(alias="_creationDate")
    maintainerId: str = Field(alias="_maintainerId")
    version: int = Field(alias="_version")
    executionDate: int
    instructions: list[dict[str, Any]]
    conflicts: Maybe[Any] = Field(
        default=None,
        description="Conflicting changes: {instruction, reason, _id (the earlier scheduled change)}; "
        "a failed change's one entry is why it failed",
    )
    links: Maybe[Links] = Field(default=None, alias="_links")
    status: Maybe[str] = Field(default=None, description="flagward: pending, or failed (with failureReason)")
    failureReason: Maybe[str] = None


class FeatureFlagScheduledChanges(Read):
    items: list[FeatureFlagScheduledChange]
    links: Maybe[Links] = Field(default=None, alias="_links")


class ResourceId(Read):
    kind: Maybe[str] = None
    projectKey: Maybe[str] = None
    environmentKey: Maybe[str] = None
    flagKey: Maybe[str] = None
    key: Maybe[str] = None


class ExpiringTarget(Read):
    id: str = Field(alias="_id")
    version: int = Field(alias="_version")
    expirationDate: int
    contextKind: str
    contextKey: str
    targetType: Maybe[str] = None
    variationId: Maybe[str] = None
    resourceId: ResourceId = Field(alias="_resourceId")


class ExpiringTargetGetResponse(Read):
    items: list[ExpiringTarget]
    links: Maybe[Links] = Field(default=None, alias="_links")


class ExpiringTargetError(Read):
    instructionIndex: int
    message: str


class ExpiringTargetPatchResponse(Read):
    items: list[ExpiringTarget]
    links: Maybe[Links] = Field(default=None, alias="_links")
    totalInstructions: Maybe[int] = None
    successfulInstructions: Maybe[int] = None
    failedInstructions: Maybe[int] = None
    errors: Maybe[list[ExpiringTargetError]] = None
