"""LaunchDarkly-shaped documents of domain objects, without links or other edge decorations.

They are what JSON patch operates on, what the audit log records as previous and current versions, and
the base the HTTP edge decorates with ``_links``.
"""

from __future__ import annotations

from typing import Any

from flagward.domain.accounts import AccessToken, Member, Team
from flagward.domain.audit import AuditEntry
from flagward.domain.flags import Flag, FlagConfig
from flagward.domain.json_values import copy_json
from flagward.domain.projects import ApprovalSettings, ClientSideAvailability, Environment, Project


def client_side_availability(value: ClientSideAvailability) -> dict[str, bool]:
    return {"usingMobileKey": value.using_mobile_key, "usingEnvironmentId": value.using_environment_id}


def approval_settings(settings: ApprovalSettings) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "required": settings.required,
        "bypassApprovalsForPendingChanges": settings.bypass_approvals_for_pending_changes,
        "minNumApprovals": settings.min_num_approvals,
        "canReviewOwnRequest": settings.can_review_own_request,
        "canApplyDeclinedChanges": settings.can_apply_declined_changes,
        "serviceKind": settings.service_kind,
        "serviceConfig": dict(settings.service_config),
        "requiredApprovalTags": list(settings.required_approval_tags),
        # flagward's own (LaunchDarkly has none; its clients ignore it): teams that must approve too.
        "requiredReviewers": [r.document() for r in settings.required_reviewers],
    }
    if settings.auto_apply_approved_changes is not None:
        doc["autoApplyApprovedChanges"] = settings.auto_apply_approved_changes
    if settings.service_kind_configuration_id is not None:
        doc["serviceKindConfigurationId"] = settings.service_kind_configuration_id
    return doc


SEGMENT_NOTE_FIELD = "segmentChangesRequireApproval"


def flag_approval_settings(env: Environment) -> dict[str, Any]:
    """An environment's flag approval settings, and a field of flagward's own saying whether changes to
    segments need approval there too: a flag that requires approval still serves differently when a
    segment it uses changes, and segments have their own approval settings (as in LaunchDarkly). True
    only when every segment of the environment requires approval; read-only."""
    return {**approval_settings(env.approval_settings), SEGMENT_NOTE_FIELD: env.segment_approval_settings.required}


def project_document(project: Project) -> dict[str, Any]:
    return {
        "_id": project.id,
        "key": project.key,
        "name": project.name,
        "tags": list(project.tags),
        "includeInSnippetByDefault": project.include_in_snippet_by_default,
        "defaultClientSideAvailability": client_side_availability(project.default_client_side_availability),
    }


def environment_document(env: Environment) -> dict[str, Any]:
    return {
        "_id": env.id,
        "key": env.key,
        "name": env.name,
        "apiKey": env.api_key,
        "mobileKey": env.mobile_key,
        "color": env.color,
        "defaultTtl": env.default_ttl,
        "secureMode": env.secure_mode,
        "defaultTrackEvents": env.default_track_events,
        "requireComments": env.require_comments,
        "confirmChanges": env.confirm_changes,
        "tags": list(env.tags),
        "critical": env.critical,
        "approvalSettings": flag_approval_settings(env),
    }


def config_document(config: FlagConfig) -> dict[str, Any]:
    doc: dict[str, Any] = copy_json(dict(config))
    if doc.get("offVariation") is None:
        doc.pop("offVariation", None)
    return doc


def flag_document(flag: Flag, env_keys: list[str] | None = None) -> dict[str, Any]:
    """The flag as LaunchDarkly represents it; ``env_keys`` restricts ``environments`` (None: all)."""
    doc: dict[str, Any] = {
        "key": flag.key,
        "name": flag.name,
        "kind": flag.kind,
        "description": flag.description,
        "_version": flag.version,
        "creationDate": flag.creation_date,
        "includeInSnippet": flag.client_side_availability.using_environment_id,
        "clientSideAvailability": client_side_availability(flag.client_side_availability),
        "variations": copy_json(flag.variations),
        "temporary": flag.temporary,
        "tags": list(flag.tags),
        "customProperties": copy_json(flag.custom_properties),
        "archived": flag.archived,
        "deprecated": flag.deprecated,
        "defaults": {"onVariation": flag.defaults.on_variation, "offVariation": flag.defaults.off_variation},
        "experiments": {"baselineIdx": 0, "items": []},
        "goalIds": [],
    }
    optional = {
        "maintainerId": flag.maintainer_id,
        "maintainerTeamKey": flag.maintainer_team_key,
        "archivedDate": flag.archived_date,
        "deprecatedDate": flag.deprecated_date,
    }
    doc.update({k: v for k, v in optional.items() if v is not None})
    keys = flag.environments.keys() if env_keys is None else [k for k in env_keys if k in flag.environments]
    doc["environments"] = {key: config_document(flag.environments[key]) for key in keys}
    return doc


def member_document(member: Member) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "_id": member.id,
        "email": member.email,
        "role": member.role.value,
        "creationDate": member.creation_date,
        "_lastSeen": member.last_seen or 0,
        "_pendingInvite": False,
        "_verified": True,
        "customRoles": list(member.custom_role_ids),
        "mfa": "disabled",
        "excludedDashboards": [],
        "permissionGrants": [
            {"resource": f"team/{k}", "actionSet": "maintainTeam"} for k in member.maintained_team_keys
        ],
        # flagward's own (LaunchDarkly has none; its clients ignore it): approval-request notifications by e-mail.
        "emailNotifications": member.email_notifications,
    }
    if member.first_name is not None:
        doc["firstName"] = member.first_name
    if member.last_name is not None:
        doc["lastName"] = member.last_name
    return doc


def team_document(team: Team) -> dict[str, Any]:
    return {
        "key": team.key,
        "name": team.name,
        "description": team.description or "",
        "_creationDate": team.creation_date,
        "_lastModified": team.last_modified,
        "_version": team.version,
        "_idpSynced": False,
    }


def token_document(token: AccessToken) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "_id": token.id,
        "ownerId": token.owner_id,
        "memberId": token.member_id or token.owner_id,
        "name": token.name or "",
        "creationDate": token.creation_date,
        "lastModified": token.last_modified,
        "customRoleIds": list(token.custom_role_ids),
        "role": token.role.value,
        "token": token.last4,
        "serviceToken": token.service_token,
        "defaultApiVersion": token.default_api_version,
    }
    if token.description is not None:
        doc["description"] = token.description
    if token.inline_role is not None:
        doc["inlineRole"] = [s.document() for s in token.inline_role]
    if token.last_used is not None:
        doc["lastUsed"] = token.last_used
    return doc


_API = "/api/v2"


def _links(self_href: str, parent_href: str) -> dict[str, dict[str, str]]:
    return {
        "self": {"href": self_href, "type": "application/json"},
        "parent": {"href": parent_href, "type": "application/json"},
    }


def audit_entry_document(entry: AuditEntry, account_id: str, *, detail: bool) -> dict[str, Any]:
    """LaunchDarkly's audit-log entry representation: the listing's (``detail`` off) or the one
    ``GET /api/v2/auditlog/{id}`` returns, which is also the body of a webhook delivery."""
    doc: dict[str, Any] = {
        "_id": entry.id,
        "_accountId": account_id,
        "_links": _links(f"{_API}/auditlog/{entry.id}", f"{_API}/auditlog"),
        "date": entry.date,
        "accesses": [{"action": a.action, "resource": a.resource} for a in entry.accesses],
        "kind": entry.kind,
        "name": entry.name,
        "description": entry.description,
        "shortDescription": entry.short_description,
        "titleVerb": entry.title_verb,
        "title": entry.short_description,
        "target": {"name": entry.name, "resources": entry.target_resources, "_links": {}},
    }
    actor = entry.actor
    if actor.member_id:
        member_doc: dict[str, Any] = {
            "_id": actor.member_id,
            "_links": _links(f"{_API}/members/{actor.member_id}", f"{_API}/members"),
            "email": actor.member_email or "",
            "role": actor.member_role or "reader",
        }
        doc["member"] = member_doc
    if actor.token_id:
        doc["token"] = {
            "_id": actor.token_id,
            "_links": _links(f"{_API}/tokens/{actor.token_id}", f"{_API}/tokens"),
            "name": actor.token_name or "",
            "ending": actor.token_ending or "",
            "serviceToken": actor.service_token,
        }
    if entry.comment:
        doc["comment"] = entry.comment
    if entry.approval_request_id:
        doc["approvalRequestId"] = entry.approval_request_id
    doc["hash"] = entry.hash
    if detail:
        if entry.previous is not None:
            doc["previousVersion"] = entry.previous
        if entry.current is not None:
            doc["currentVersion"] = entry.current
        if entry.delta is not None:
            doc["delta"] = entry.delta
    return doc
