"""Projects and environments, with the approval settings that govern change in each environment."""

from __future__ import annotations

import re
from dataclasses import dataclass, field, fields, replace
from typing import Any

from flagward.domain.approval_services import LAUNCHDARKLY, ExternalService, external_service, validate_service
from flagward.domain.errors import InvalidRequest
from flagward.domain.ids import check_name_length
from flagward.domain.review_policy import TeamRequirement, validate_required_reviewers

_COLOR = re.compile(r"^[0-9A-Fa-f]{6}$")
MAX_APPROVALS = 5


@dataclass(frozen=True)
class ClientSideAvailability:
    using_mobile_key: bool = True
    using_environment_id: bool = False


@dataclass(frozen=True)
class ApprovalSettings:
    """LaunchDarkly's ``ApprovalSettings`` with its defaults."""

    required: bool = False
    bypass_approvals_for_pending_changes: bool = False
    min_num_approvals: int = 1
    can_review_own_request: bool = False
    can_apply_declined_changes: bool = True
    required_approval_tags: tuple[str, ...] = ()
    service_kind: str = "launchdarkly"
    service_config: dict[str, Any] = field(default_factory=dict)
    auto_apply_approved_changes: bool | None = None
    service_kind_configuration_id: str | None = None
    # flagward's own: teams whose members must approve too (``flagward.domain.review_policy``).
    required_reviewers: tuple[TeamRequirement, ...] = ()

    def validated(self) -> ApprovalSettings:
        """Return self, or raise InvalidRequest naming the offending field."""
        if isinstance(self.min_num_approvals, bool) or not isinstance(self.min_num_approvals, int):
            raise InvalidRequest("approvalSettings.minNumApprovals must be an integer")
        if not 1 <= self.min_num_approvals <= MAX_APPROVALS:
            raise InvalidRequest(f"approvalSettings.minNumApprovals must be between 1 and {MAX_APPROVALS}")
        if self.required and self.required_approval_tags:
            raise InvalidRequest(
                "approvalSettings.required and approvalSettings.requiredApprovalTags cannot both be set"
            )
        for name in (
            "required",
            "bypass_approvals_for_pending_changes",
            "can_review_own_request",
            "can_apply_declined_changes",
        ):
            if not isinstance(getattr(self, name), bool):
                raise InvalidRequest(f"approvalSettings.{_camel(name)} must be a boolean")
        if not all(isinstance(t, str) for t in self.required_approval_tags):
            raise InvalidRequest("approvalSettings.requiredApprovalTags must be a list of strings")
        if self.auto_apply_approved_changes is not None and not isinstance(self.auto_apply_approved_changes, bool):
            raise InvalidRequest("approvalSettings.autoApplyApprovedChanges must be a boolean")
        if not isinstance(self.service_config, dict):
            raise InvalidRequest("approvalSettings.serviceConfig must be an object")
        if self.service_kind_configuration_id is not None and not isinstance(self.service_kind_configuration_id, str):
            raise InvalidRequest("approvalSettings.serviceKindConfigurationId must be a string")
        validate_service(self.service_kind, self.service_config)
        if not isinstance(self.required_reviewers, tuple):
            raise InvalidRequest("approvalSettings.requiredReviewers must be a list of {teamKey, minApprovals} objects")
        validate_required_reviewers(self.required_reviewers)
        if self.required_reviewers and self.service_kind != LAUNCHDARKLY:
            raise InvalidRequest(
                "approvalSettings.requiredReviewers is only available with flagward's own approvals "
                "(serviceKind launchdarkly): an external approval service decides alone"
            )
        if self.auto_apply_approved_changes and self.service_kind == LAUNCHDARKLY:
            raise InvalidRequest(
                "approvalSettings.autoApplyApprovedChanges is only available for external approval services"
            )
        return self

    @property
    def external(self) -> ExternalService | None:
        """The external approval service these (validated) settings name, if any."""
        return external_service(self.service_kind, self.service_config)

    def applies_to(self, flag_tags: list[str] | tuple[str, ...]) -> bool:
        """Whether a change to a resource with ``flag_tags`` needs approval in this environment."""
        return self.required or any(tag in self.required_approval_tags for tag in flag_tags)

    def with_changes(self, **changes: Any) -> ApprovalSettings:
        known = {f.name for f in fields(self)}
        unknown = set(changes) - known
        if unknown:
            raise InvalidRequest(f"unknown approval setting: {', '.join(sorted(unknown))}")
        return replace(self, **changes).validated()


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(p.title() for p in rest)


@dataclass
class Environment:
    id: str  # also the client-side ID
    project_id: str
    project_key: str
    key: str
    name: str
    api_key: str  # the server-side SDK key
    mobile_key: str
    color: str
    creation_date: int
    default_ttl: int = 0
    secure_mode: bool = False
    default_track_events: bool = False
    require_comments: bool = False
    confirm_changes: bool = False
    tags: list[str] = field(default_factory=list)
    critical: bool = False
    approval_settings: ApprovalSettings = field(default_factory=ApprovalSettings)
    segment_approval_settings: ApprovalSettings = field(default_factory=ApprovalSettings)
    version: int = 1

    def validate(self) -> None:
        if not isinstance(self.name, str) or not self.name.strip():
            raise InvalidRequest("name is required")
        check_name_length(self.name)
        if not isinstance(self.color, str) or not _COLOR.match(self.color):
            raise InvalidRequest("color must be six hexadecimal digits, such as F5A623")
        if (
            isinstance(self.default_ttl, bool)
            or not isinstance(self.default_ttl, int)
            or not (0 <= self.default_ttl <= 60)
        ):
            raise InvalidRequest("defaultTtl must be an integer between 0 and 60")
        for name in (
            "secure_mode",
            "default_track_events",
            "require_comments",
            "confirm_changes",
            "critical",
        ):
            if not isinstance(getattr(self, name), bool):
                raise InvalidRequest(f"{_camel(name)} must be a boolean")
        _validate_tags(self.tags)
        self.approval_settings.validated()
        self.segment_approval_settings.validated()


@dataclass
class Project:
    id: str
    key: str
    name: str
    creation_date: int
    tags: list[str] = field(default_factory=list)
    include_in_snippet_by_default: bool = False
    default_client_side_availability: ClientSideAvailability = field(default_factory=ClientSideAvailability)
    version: int = 1

    def validate(self) -> None:
        if not isinstance(self.name, str) or not self.name.strip():
            raise InvalidRequest("name is required")
        check_name_length(self.name)
        _validate_tags(self.tags)


def _validate_tags(tags: object) -> None:
    if not isinstance(tags, list) or not all(isinstance(t, str) and t for t in tags):
        raise InvalidRequest("tags must be a list of non-empty strings")


DEFAULT_ENVIRONMENTS = (("production", "Production", "417505"), ("test", "Test", "F5A623"))


def masked_key(key: str) -> str:
    """An SDK or mobile key as shown to those who may not see it (``viewSdkKey``): its kind and its last
    four characters, so it can be recognised but not used (``sdk-********a1b2``)."""
    kind, dash, _ = key.partition("-")
    return (kind + dash if dash else "") + "*" * 8 + key[-4:]
