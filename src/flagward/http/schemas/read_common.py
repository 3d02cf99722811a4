"""The base of the response (Read) models and the pieces every resource shares: links, access, client-side
availability, approval settings, member summaries.

Read models are the documented contract of what the presenters emit; presenters still build the
documents (the conversion at the edge) and FastAPI validates each one against its model before sending
it. Hence the base's three choices:

- ``strict``: a value is never coerced (``True`` stays ``true``, never ``1``), so what is served is what
  the presenter built;
- ``extra="allow"``: a field the presenter emits and the model does not name is served unchanged;
- optional fields are ``Maybe[T]``: documented as ``T`` (not nullable) because the presenters leave them
  out rather than send ``null``; routes serialize with ``exclude_unset``, so only emitted keys are sent.
"""

from __future__ import annotations

from typing import Annotated, Any, TypeAlias, TypeVar

from pydantic import BaseModel, ConfigDict, Field
from pydantic.config import JsonDict
from pydantic.json_schema import SkipJsonSchema

T = TypeVar("T")

# Absent when unset; the schema documents T alone, since the presenters omit such a field, not null it.
Maybe: TypeAlias = T | SkipJsonSchema[None]


def _tidy_schema(schema: JsonDict, _cls: type[Any]) -> None:
    """LaunchDarkly's property schemas carry no titles; and ``Maybe`` fields default to None only so that
    they may be absent, a default that is never served."""
    properties = schema.get("properties")
    if isinstance(properties, dict):
        for prop in properties.values():
            if isinstance(prop, dict):
                prop.pop("title", None)
                if "default" in prop and prop["default"] is None:
                    del prop["default"]


class Read(BaseModel):
    """The base of every response model (see the module's docstring)."""

    model_config = ConfigDict(extra="allow", populate_by_name=True, strict=True, json_schema_extra=_tidy_schema)


class Link(Read):
    href: Maybe[str] = None
    type: Maybe[str] = None


Links: TypeAlias = dict[str, Link]


class Access(Read):
    """Which actions the caller may take on the resource (flagward does not compute them: both empty)."""

    allowed: list[Any]
    denied: list[Any]


class ClientSideAvailability(Read):
    usingMobileKey: Maybe[bool] = None
    usingEnvironmentId: Maybe[bool] = None


class RequiredReviewerTeam(Read):
    """flagward: a team whose members must approve a change (besides ``minNumApprovals``)."""

    teamKey: str
    minApprovals: int = Field(ge=1, le=5, description="Approvals needed from the team's members (1 to 5)")


RequiredReviewerTeams: TypeAlias = Annotated[list[RequiredReviewerTeam], Field(max_length=10)]
REQUIRED_REVIEWERS = (
    "flagward: teams whose members must approve a change too (at most 10, each once). A request made here "
    "keeps the requirements in force when it was made; the requester never counts toward a team. Only with "
    "serviceKind launchdarkly. Absent from LaunchDarkly's document: its clients ignore it."
)


class ApprovalSettings(Read):
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
    resourceKind: Maybe[str] = None
    segmentChangesRequireApproval: Maybe[bool] = Field(
        default=None,
        description="flagward: whether changes to segments need approval in this environment too (flag "
        "settings only; read-only). A flag that requires approval serves differently when a segment it uses "
        "changes, and segments have approval settings of their own.",
    )
    requiredReviewers: Maybe[RequiredReviewerTeams] = Field(default=None, description=REQUIRED_REVIEWERS)


class MemberSummary(Read):
    links: Links = Field(alias="_links")
    id: str = Field(alias="_id")
    firstName: Maybe[str] = None
    lastName: Maybe[str] = None
    role: str
    email: str
