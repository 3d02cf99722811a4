"""Audit entries, the closed set of actions they record, and resource specifiers.

Entries form a hash chain (``audit_chain.py``); an entry's content names its predecessor (``prev_id``),
and dates strictly increase along the chain, so listing "entries before this date" pages through the
log without skipping or repeating entries.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from enum import StrEnum
from typing import Any

from flagward.domain.policy import Statement, allows_any

GENESIS_HASH = "0" * 64
# 1: the hash covered the JSON document only (entries written before it existed); 2: every stored field.
HASH_VERSION = 2


class AuditAction(StrEnum):
    """LaunchDarkly's role/audit action names for everything flagward changes."""

    CREATE_PROJECT = "createProject"
    UPDATE_PROJECT = "updateProjectName"
    UPDATE_PROJECT_TAGS = "updateTags"
    UPDATE_PROJECT_CLIENT_SIDE = "updateProjectClientSideAvailability"
    DELETE_PROJECT = "deleteProject"
    CREATE_ENVIRONMENT = "createEnvironment"
    UPDATE_ENVIRONMENT = "updateEnvironment"
    UPDATE_APPROVAL_SETTINGS = "updateRequireApproval"
    RESET_SDK_KEY = "updateApiKey"
    RESET_MOBILE_KEY = "updateMobileKey"
    DELETE_ENVIRONMENT = "deleteEnvironment"
    CREATE_FLAG = "createFlag"
    DELETE_FLAG = "deleteFlag"
    UPDATE_ON = "updateOn"
    UPDATE_TARGETS = "updateTargets"
    UPDATE_RULES = "updateRules"
    UPDATE_FALLTHROUGH = "updateFallthrough"
    UPDATE_OFF_VARIATION = "updateOffVariation"
    UPDATE_PREREQUISITES = "updatePrerequisites"
    UPDATE_TRACK_EVENTS = "updateTrackEvents"
    UPDATE_FALLTHROUGH_TRACK_EVENTS = "updateFlagFallthroughTrackEvents"
    UPDATE_FLAG_SALT = "updateFlagSalt"
    UPDATE_MIGRATION_SETTINGS = "updateFlagConfigMigrationSettings"
    UPDATE_DEBUG_EVENTS = "updateFlagDebugEvents"
    UPDATE_VARIATIONS = "updateFlagVariations"
    UPDATE_DEFAULT_VARIATIONS = "updateFlagDefaultVariations"
    UPDATE_NAME = "updateName"
    UPDATE_DESCRIPTION = "updateDescription"
    UPDATE_TAGS = "updateTags"
    UPDATE_TEMPORARY = "updateTemporary"
    UPDATE_MAINTAINER = "updateMaintainer"
    UPDATE_CLIENT_SIDE_AVAILABILITY = "updateClientSideFlagAvailability"
    UPDATE_CUSTOM_PROPERTIES = "updateFlagCustomProperties"
    ARCHIVE_FLAG = "updateGlobalArchived"
    DEPRECATE_FLAG = "updateDeprecated"
    COPY_FLAG_CONFIG_FROM = "copyFlagConfigFrom"
    COPY_FLAG_CONFIG_TO = "copyFlagConfigTo"
    CREATE_SEGMENT = "createSegment"
    UPDATE_SEGMENT = "updateSegment"
    UPDATE_SEGMENT_TARGETS = "updateIncluded"
    UPDATE_SEGMENT_EXCLUDED = "updateExcluded"
    UPDATE_SEGMENT_RULES = "updateRules"
    DELETE_SEGMENT = "deleteSegment"
    CREATE_MEMBER = "createMember"
    UPDATE_MEMBER_ROLE = "updateRole"
    UPDATE_MEMBER = "updateMember"
    DELETE_MEMBER = "deleteMember"
    CREATE_TEAM = "createTeam"
    UPDATE_TEAM = "updateTeamName"
    UPDATE_TEAM_DESCRIPTION = "updateTeamDescription"
    UPDATE_TEAM_MEMBERS = "updateTeamMembers"
    DELETE_TEAM = "deleteTeam"
    CREATE_TOKEN = "createAccessToken"
    UPDATE_TOKEN = "updateAccessToken"
    RESET_TOKEN = "resetAccessToken"
    DELETE_TOKEN = "deleteAccessToken"
    CREATE_ROLE = "createRole"
    UPDATE_ROLE_NAME = "updateName"
    UPDATE_ROLE_DESCRIPTION = "updateDescription"
    UPDATE_ROLE_POLICY = "updatePolicy"
    UPDATE_ROLE_BASE_PERMISSIONS = "updateBasePermissions"
    DELETE_ROLE = "deleteRole"
    UPDATE_MEMBER_CUSTOM_ROLES = "updateCustomRole"
    UPDATE_TEAM_CUSTOM_ROLES = "updateTeamCustomRoles"
    UPDATE_TEAM_MAINTAINERS = "updateTeamPermissions"
    CREATE_APPROVAL_REQUEST = "createApprovalRequest"
    REVIEW_APPROVAL_REQUEST = "reviewApprovalRequest"
    APPLY_APPROVAL_REQUEST = "applyApprovalRequest"
    UPDATE_APPROVAL_REQUEST = "updateApprovalRequest"
    DELETE_APPROVAL_REQUEST = "deleteApprovalRequest"
    UPDATE_APPROVAL_REQUEST_SETTINGS = "updateApprovalRequestSettings"
    CREATE_WEBHOOK = "createWebhook"
    UPDATE_WEBHOOK_NAME = "updateName"
    UPDATE_WEBHOOK_URL = "updateUrl"
    UPDATE_WEBHOOK_SECRET = "updateSecret"  # the secret or whether deliveries are signed
    UPDATE_WEBHOOK_STATEMENTS = "updateStatements"
    UPDATE_WEBHOOK_ON = "updateOn"
    UPDATE_WEBHOOK_TAGS = "updateTags"
    DELETE_WEBHOOK = "deleteWebhook"
    CREATE_TRIGGER = "createTriggers"
    UPDATE_TRIGGER = "updateTriggers"
    DELETE_TRIGGER = "deleteTriggers"
    UPDATE_FEATURE_WORKFLOWS = "updateFeatureWorkflows"
    CREATE_TEMPLATE = "createTemplate"
    DELETE_TEMPLATE = "deleteTemplate"


def project_spec(project_key: str) -> str:
    return f"proj/{project_key}"


def environment_spec(project_key: str, env_key: str) -> str:
    return f"proj/{project_key}:env/{env_key}"


def flag_spec(project_key: str, flag_key: str, env_key: str = "*") -> str:
    return f"proj/{project_key}:env/{env_key}:flag/{flag_key}"


def segment_spec(project_key: str, env_key: str, segment_key: str) -> str:
    return f"proj/{project_key}:env/{env_key}:segment/{segment_key}"


def spec_matches(pattern: str, resource: str) -> bool:
    """Whether resource specifier ``pattern`` (with ``*`` globs) names ``resource``.

    Tag qualifiers (``;tag``) in either are ignored. A pattern with fewer segments matches resources
    nested under it only when it ends in a glob segment covering them: ``proj/p:env/*:flag/*`` matches
    ``proj/p:env/e:flag/f``; ``proj/p`` matches only the project itself.
    """
    pattern_parts = [_strip_tags(p) for p in pattern.split(":")]
    resource_parts = [_strip_tags(p) for p in resource.split(":")]
    if len(pattern_parts) != len(resource_parts):
        return False
    return all(fnmatch.fnmatchcase(r, p) for p, r in zip(pattern_parts, resource_parts, strict=True))


def _strip_tags(part: str) -> str:
    return part.split(";", 1)[0]


@dataclass(frozen=True)
class Access:
    action: str
    resource: str


@dataclass(frozen=True)
class AuditActor:
    member_id: str | None = None
    member_email: str | None = None
    member_first_name: str | None = None
    member_last_name: str | None = None
    member_role: str | None = None
    token_id: str | None = None
    token_name: str | None = None
    token_ending: str | None = None
    service_token: bool = False


@dataclass
class AuditEntry:
    """One audited change. ``previous``/``current`` are the resource representations around it."""

    id: str
    date: int
    kind: str  # resource kind: flag, segment, project, environment, member, team, token, approvalRequest
    name: str  # the resource's name
    description: str
    short_description: str
    title_verb: str
    accesses: list[Access]
    actor: AuditActor
    target_resources: list[str]
    comment: str | None = None
    previous: dict[str, Any] | None = None
    current: dict[str, Any] | None = None
    delta: Any = None  # the request body that made the change (a JSON patch, instructions…)
    approval_request_id: str | None = None
    seq: int = 0
    prev_hash: str = GENESIS_HASH
    hash: str = ""
    extra: dict[str, Any] = field(default_factory=dict)
    prev_id: str | None = None  # the id of the entry before this one in the chain
    hash_version: int = HASH_VERSION  # the formula its hash was computed with (``audit_chain``)

    def content(self) -> dict[str, Any]:
        """The entry's document: all fields but its place in the chain (``seq``, the hashes and their
        version). ``prev_id`` is left out while unset, as in entries sealed before it existed.

        What ``dataclasses.asdict`` gives, in field order, without its deep copies: the document is hashed
        and stored, never changed, and the previous and current representations are large."""
        data: dict[str, Any] = {
            "id": self.id,
            "date": self.date,
            "kind": self.kind,
            "name": self.name,
            "description": self.description,
            "short_description": self.short_description,
            "title_verb": self.title_verb,
            "accesses": [{"action": a.action, "resource": a.resource} for a in self.accesses],
            "actor": {name: getattr(self.actor, name) for name in _ACTOR_FIELDS},
            "target_resources": list(self.target_resources),
            "comment": self.comment,
            "previous": self.previous,
            "current": self.current,
            "delta": self.delta,
            "approval_request_id": self.approval_request_id,
            "extra": self.extra,
        }
        if self.prev_id is not None:
            data["prev_id"] = self.prev_id
        return data

    def resources(self) -> list[str]:
        """Every resource specifier the entry names (its targets, then its accesses'), for spec filters."""
        return self.target_resources + [a.resource for a in self.accesses]

    def matches(self, statements: Sequence[Statement]) -> bool:
        """Whether the policy allows one of the entry's accesses: how ``POST /api/v2/auditlog`` and
        webhooks choose entries by statements (the resources as recorded, with the tags they carry)."""
        return allows_any(statements, [(a.action, a.resource) for a in self.accesses])


_ACTOR_FIELDS = tuple(f.name for f in fields(AuditActor))
