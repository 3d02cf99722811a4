"""Record <-> domain conversions. Pure functions, both directions."""

from __future__ import annotations

import copy
import dataclasses
from typing import Any, cast

from sqlalchemy import Row

from flagward.domain.accounts import AccessToken, Member, Role, Team
from flagward.domain.approvals import (
    ApprovalRequest,
    CopySource,
    ExternalStatus,
    IntegrationMetadata,
    ResourceKind,
    Review,
    ReviewKind,
    WorkflowMeta,
)
from flagward.domain.approvals import Status as ApprovalStatus
from flagward.domain.audit import Access, AuditActor, AuditEntry
from flagward.domain.flags import Defaults, Flag, FlagConfig, Variation
from flagward.domain.policy import parse_statements
from flagward.domain.projects import ApprovalSettings, ClientSideAvailability, Environment, Project
from flagward.domain.review_policy import TeamRequirement
from flagward.domain.roles import CustomRole
from flagward.domain.segments import Segment
from flagward.storage.records import (
    AuditRecord,
    CustomRoleRecord,
    EnvironmentRecord,
    MemberRecord,
    ProjectRecord,
    SegmentRecord,
    TeamRecord,
    TokenRecord,
)


def encode_tags(tags: list[str]) -> str:
    return "\n" + "".join(f"{tag}\n" for tag in tags)


def tag_pattern(tag: str) -> str:
    """A LIKE pattern matching records whose encoded tags contain ``tag``."""
    escaped = tag.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%\n{escaped}\n%"


def csa_to_doc(value: ClientSideAvailability) -> dict[str, bool]:
    return {"usingMobileKey": value.using_mobile_key, "usingEnvironmentId": value.using_environment_id}


def csa_from_doc(doc: dict[str, Any]) -> ClientSideAvailability:
    return ClientSideAvailability(
        using_mobile_key=bool(doc.get("usingMobileKey", True)),
        using_environment_id=bool(doc.get("usingEnvironmentId", False)),
    )


def project_to_record(project: Project, record: ProjectRecord | None = None) -> ProjectRecord:
    record = record or ProjectRecord(id=project.id, creation_date=project.creation_date)
    record.key = project.key
    record.name = project.name
    record.tags = encode_tags(project.tags)
    record.version = project.version
    record.doc = {
        "tags": list(project.tags),
        "includeInSnippetByDefault": project.include_in_snippet_by_default,
        "defaultClientSideAvailability": csa_to_doc(project.default_client_side_availability),
    }
    return record


def project_from_record(record: ProjectRecord) -> Project:
    doc = record.doc
    return Project(
        id=record.id,
        key=record.key,
        name=record.name,
        creation_date=record.creation_date,
        tags=list(doc.get("tags", [])),
        include_in_snippet_by_default=bool(doc.get("includeInSnippetByDefault", False)),
        default_client_side_availability=csa_from_doc(doc.get("defaultClientSideAvailability", {})),
        version=record.version,
    )


def approval_settings_to_doc(settings: ApprovalSettings) -> dict[str, Any]:
    return {
        "required": settings.required,
        "bypassApprovalsForPendingChanges": settings.bypass_approvals_for_pending_changes,
        "minNumApprovals": settings.min_num_approvals,
        "canReviewOwnRequest": settings.can_review_own_request,
        "canApplyDeclinedChanges": settings.can_apply_declined_changes,
        "requiredApprovalTags": list(settings.required_approval_tags),
        "serviceKind": settings.service_kind,
        "serviceConfig": dict(settings.service_config),
        "autoApplyApprovedChanges": settings.auto_apply_approved_changes,
        "serviceKindConfigurationId": settings.service_kind_configuration_id,
        "requiredReviewers": [r.document() for r in settings.required_reviewers],
    }


def _requirements_from_doc(docs: list[dict[str, Any]] | None) -> tuple[TeamRequirement, ...]:
    return tuple(TeamRequirement(d["teamKey"], d["minApprovals"]) for d in docs or [])


def _review_from_doc(doc: dict[str, Any]) -> Review:
    return Review(**{**doc, "kind": ReviewKind(doc["kind"]), "teams": tuple(doc.get("teams") or ())})


def approval_settings_from_doc(doc: dict[str, Any]) -> ApprovalSettings:
    return ApprovalSettings(
        required=doc["required"],
        bypass_approvals_for_pending_changes=doc["bypassApprovalsForPendingChanges"],
        min_num_approvals=doc["minNumApprovals"],
        can_review_own_request=doc["canReviewOwnRequest"],
        can_apply_declined_changes=doc["canApplyDeclinedChanges"],
        required_approval_tags=tuple(doc["requiredApprovalTags"]),
        service_kind=doc["serviceKind"],
        service_config=dict(doc["serviceConfig"]),
        auto_apply_approved_changes=doc.get("autoApplyApprovedChanges"),
        service_kind_configuration_id=doc.get("serviceKindConfigurationId"),
        required_reviewers=_requirements_from_doc(doc.get("requiredReviewers")),
    )


def environment_to_record(env: Environment, record: EnvironmentRecord | None = None) -> EnvironmentRecord:
    record = record or EnvironmentRecord(id=env.id, project_id=env.project_id, creation_date=env.creation_date)
    record.key = env.key
    record.name = env.name
    record.api_key = env.api_key
    record.mobile_key = env.mobile_key
    record.version = env.version
    record.doc = {
        "color": env.color,
        "defaultTtl": env.default_ttl,
        "secureMode": env.secure_mode,
        "defaultTrackEvents": env.default_track_events,
        "requireComments": env.require_comments,
        "confirmChanges": env.confirm_changes,
        "tags": list(env.tags),
        "critical": env.critical,
        "approvalSettings": approval_settings_to_doc(env.approval_settings),
        "segmentApprovalSettings": approval_settings_to_doc(env.segment_approval_settings),
    }
    return record


def environment_from_record(record: EnvironmentRecord, project_key: str) -> Environment:
    doc = record.doc
    return Environment(
        id=record.id,
        project_id=record.project_id,
        project_key=project_key,
        key=record.key,
        name=record.name,
        api_key=record.api_key,
        mobile_key=record.mobile_key,
        color=doc["color"],
        creation_date=record.creation_date,
        default_ttl=doc["defaultTtl"],
        secure_mode=doc["secureMode"],
        default_track_events=doc["defaultTrackEvents"],
        require_comments=doc["requireComments"],
        confirm_changes=doc["confirmChanges"],
        tags=list(doc["tags"]),
        critical=doc["critical"],
        approval_settings=approval_settings_from_doc(doc["approvalSettings"]),
        segment_approval_settings=approval_settings_from_doc(doc["segmentApprovalSettings"]),
        version=record.version,
    )


def flag_doc(flag: Flag) -> dict[str, Any]:
    return {
        "kind": flag.kind,
        "description": flag.description,
        "variations": flag.variations,
        "defaults": {"onVariation": flag.defaults.on_variation, "offVariation": flag.defaults.off_variation},
        "temporary": flag.temporary,
        "tags": list(flag.tags),
        "maintainerId": flag.maintainer_id,
        "maintainerTeamKey": flag.maintainer_team_key,
        "clientSideAvailability": csa_to_doc(flag.client_side_availability),
        "archivedDate": flag.archived_date,
        "deprecated": flag.deprecated,
        "deprecatedDate": flag.deprecated_date,
        "customProperties": flag.custom_properties,
    }


def flag_columns(flag: Flag) -> dict[str, Any]:
    """The flags row's columns a change may write (all but its id, project and creation date), for a
    statement executed at once (nothing is copied: the statement serializes the document)."""
    return {
        "key": flag.key,
        "name": flag.name,
        "archived": flag.archived,
        "tags": encode_tags(flag.tags),
        "version": flag.version,
        "doc": flag_doc(flag),
    }


def flag_from_row(record: Row[Any], project_key: str, configs: dict[str, FlagConfig]) -> Flag:
    """From a row of the flags table's columns; its document was decoded for this row alone, so the
    domain may change what it is given."""
    doc = record.doc
    return Flag(
        id=record.id,
        project_key=project_key,
        key=record.key,
        name=record.name,
        kind=doc["kind"],
        variations=cast(list[Variation], doc["variations"]),
        creation_date=record.creation_date,
        defaults=Defaults(doc["defaults"]["onVariation"], doc["defaults"]["offVariation"]),
        description=doc.get("description") or "",
        temporary=doc["temporary"],
        tags=list(doc["tags"]),
        maintainer_id=doc.get("maintainerId"),
        maintainer_team_key=doc.get("maintainerTeamKey"),
        client_side_availability=csa_from_doc(doc["clientSideAvailability"]),
        archived=record.archived,
        archived_date=doc.get("archivedDate"),
        deprecated=bool(doc.get("deprecated", False)),
        deprecated_date=doc.get("deprecatedDate"),
        custom_properties=dict(doc.get("customProperties") or {}),
        version=record.version,
        environments=configs,
    )


def member_to_record(member: Member, record: MemberRecord | None = None) -> MemberRecord:
    record = record or MemberRecord(id=member.id, creation_date=member.creation_date)
    record.email = member.email
    record.first_name = member.first_name
    record.last_name = member.last_name
    record.email_notifications = member.email_notifications
    record.role = member.role.value
    record.password_hash = member.password_hash
    record.last_seen = member.last_seen
    record.version = member.version
    return record


def member_from_record(record: MemberRecord, team_keys: list[str], team_names: dict[str, str] | None = None) -> Member:
    return Member(
        id=record.id,
        email=record.email,
        role=Role(record.role),
        creation_date=record.creation_date,
        first_name=record.first_name,
        last_name=record.last_name,
        email_notifications=record.email_notifications,
        password_hash=record.password_hash,
        last_seen=record.last_seen,
        version=record.version,
        team_keys=team_keys,
        team_names=dict(team_names or {}),
    )


def team_to_record(team: Team, record: TeamRecord | None = None) -> TeamRecord:
    record = record or TeamRecord(id=team.id, creation_date=team.creation_date)
    record.key = team.key
    record.name = team.name
    record.description = team.description
    record.last_modified = team.last_modified
    record.version = team.version
    return record


def team_from_record(record: TeamRecord, member_ids: list[str]) -> Team:
    return Team(
        id=record.id,
        key=record.key,
        name=record.name,
        description=record.description,
        creation_date=record.creation_date,
        last_modified=record.last_modified,
        member_ids=member_ids,
        version=record.version,
    )


def token_to_record(token: AccessToken, record: TokenRecord | None = None) -> TokenRecord:
    record = record or TokenRecord(id=token.id, creation_date=token.creation_date)
    record.owner_id = token.owner_id
    record.member_id = token.member_id
    record.name = token.name
    record.description = token.description
    record.role = token.role.value
    record.service_token = token.service_token
    record.token_hash = token.token_hash
    record.last4 = token.last4
    record.default_api_version = token.default_api_version
    record.last_modified = token.last_modified
    record.last_used = token.last_used
    record.custom_role_ids = list(token.custom_role_ids)
    record.inline_role = None if token.inline_role is None else [s.document() for s in token.inline_role]
    return record


def token_from_record(record: TokenRecord) -> AccessToken:
    return AccessToken(
        id=record.id,
        owner_id=record.owner_id,
        member_id=record.member_id,
        name=record.name,
        description=record.description,
        role=Role(record.role),
        service_token=record.service_token,
        token_hash=record.token_hash,
        last4=record.last4,
        default_api_version=record.default_api_version,
        creation_date=record.creation_date,
        last_modified=record.last_modified,
        last_used=record.last_used,
        custom_role_ids=list(record.custom_role_ids or []),
        inline_role=None if record.inline_role is None else parse_statements(record.inline_role, field="inlineRole"),
    )


def audit_from_record(record: AuditRecord) -> AuditEntry:
    doc = dict(record.doc)
    doc["accesses"] = [Access(**a) for a in doc["accesses"]]
    doc["actor"] = AuditActor(**doc["actor"])
    return AuditEntry(
        **doc, seq=record.seq, prev_hash=record.prev_hash, hash=record.hash, hash_version=record.hash_version
    )


def segment_to_record(segment: Segment, environment_id: str, record: SegmentRecord | None = None) -> SegmentRecord:
    record = record or SegmentRecord(id=segment.id, environment_id=environment_id, creation_date=segment.creation_date)
    record.key = segment.key
    record.name = segment.name
    record.tags = encode_tags(segment.tags)
    record.version = segment.version
    record.doc = copy.deepcopy(
        {
            "description": segment.description,
            "tags": segment.tags,
            "lastModified": segment.last_modified,
            "salt": segment.salt,
            "included": segment.included,
            "excluded": segment.excluded,
            "includedContexts": segment.included_contexts,
            "excludedContexts": segment.excluded_contexts,
            "rules": segment.rules,
            "unbounded": segment.unbounded,
            "unboundedContextKind": segment.unbounded_context_kind,
            "generation": segment.generation,
        }
    )
    return record


def segment_from_record(record: SegmentRecord, project_key: str, environment_key: str) -> Segment:
    doc = copy.deepcopy(record.doc)
    return Segment(
        id=record.id,
        project_key=project_key,
        environment_key=environment_key,
        key=record.key,
        name=record.name,
        creation_date=record.creation_date,
        last_modified=doc["lastModified"],
        salt=doc["salt"],
        description=doc.get("description") or "",
        tags=list(doc["tags"]),
        included=doc["included"],
        excluded=doc["excluded"],
        included_contexts=doc["includedContexts"],
        excluded_contexts=doc["excludedContexts"],
        rules=doc["rules"],
        unbounded=doc["unbounded"],
        unbounded_context_kind=doc.get("unboundedContextKind"),
        generation=doc["generation"],
        version=record.version,
    )


def approval_columns(request: ApprovalRequest) -> dict[str, Any]:
    """The approval_requests row's columns a request's changes may write (all but its id, project,
    environment and creation date). Written by a statement executed at once, so nothing is copied: the
    statement serializes the documents before the domain can change them again."""
    verdicts = request.current_verdicts()
    return {
        "resource_kind": request.resource_kind.value,
        "resource_key": request.resource_key,
        "status": request.status.value,
        "requestor_id": request.requestor_id,
        "notify": encode_tags(request.notify_member_ids),
        "reviewed_by": encode_tags(list(verdicts)),
        "approval_count": request.approvals(),
        "decline_count": request.declines(),
        "teams_unmet": sum(1 for t in request.team_progress() if not t.satisfied),
        "execution_date": request.execution_date,
        "version": request.version,
        "integration_checked_at": request.integration.last_checked if request.integration else None,
        "doc": {
            "description": request.description,
            "instructions": request.instructions,
            "baseVersion": request.base_version,
            "requestorTokenId": request.requestor_token_id,
            "comment": request.comment,
            "notifyMemberIds": request.notify_member_ids,
            "notifyTeamKeys": request.notify_team_keys,
            "reviews": [dataclasses.asdict(r) for r in request.reviews],
            "operatingOnId": request.operating_on_id,
            "source": dataclasses.asdict(request.source) if request.source else None,
            "appliedDate": request.applied_date,
            "appliedByMemberId": request.applied_by_member_id,
            "appliedByServiceTokenId": request.applied_by_service_token_id,
            "failureReason": request.failure_reason,
            "serviceKind": request.service_kind,
            "integrationMetadata": _integration_to_doc(request.integration),
            "requiredReviewers": [r.document() for r in request.required_reviewers],
            "customWorkflow": dataclasses.asdict(request.custom_workflow) if request.custom_workflow else None,
        },
    }


def _integration_to_doc(meta: IntegrationMetadata | None) -> dict[str, Any] | None:
    if meta is None:
        return None
    return {
        "externalId": meta.external_id,
        "externalUrl": meta.external_url,
        "externalStatus": dataclasses.asdict(meta.external_status),
    }


def _integration_from_doc(doc: dict[str, Any] | None, last_checked: int | None) -> IntegrationMetadata | None:
    if not doc:
        return None
    return IntegrationMetadata(
        external_id=doc["externalId"],
        external_url=doc["externalUrl"],
        external_status=ExternalStatus(**doc["externalStatus"]),
        last_checked=last_checked or 0,
    )


def approval_from_row(record: Row[Any], project_key: str, environment_key: str) -> ApprovalRequest:
    """From a row of the approval_requests table's columns (a row's documents are decoded for it alone)."""
    doc = record.doc
    return ApprovalRequest(
        id=record.id,
        project_key=project_key,
        environment_key=environment_key,
        resource_kind=ResourceKind(record.resource_kind),
        resource_key=record.resource_key,
        creation_date=record.creation_date,
        description=doc["description"],
        instructions=doc["instructions"],
        base_version=doc["baseVersion"],
        requestor_id=record.requestor_id,
        requestor_token_id=doc.get("requestorTokenId"),
        comment=doc.get("comment"),
        notify_member_ids=list(doc["notifyMemberIds"]),
        notify_team_keys=list(doc.get("notifyTeamKeys") or []),
        reviews=[_review_from_doc(r) for r in doc["reviews"]],
        status=ApprovalStatus(record.status),
        execution_date=record.execution_date,
        operating_on_id=doc.get("operatingOnId"),
        source=CopySource(**doc["source"]) if doc.get("source") else None,
        applied_date=doc.get("appliedDate"),
        applied_by_member_id=doc.get("appliedByMemberId"),
        applied_by_service_token_id=doc.get("appliedByServiceTokenId"),
        failure_reason=doc.get("failureReason"),
        service_kind=doc.get("serviceKind") or "launchdarkly",
        integration=_integration_from_doc(doc.get("integrationMetadata"), record.integration_checked_at),
        required_reviewers=_requirements_from_doc(doc.get("requiredReviewers")),
        custom_workflow=WorkflowMeta(**doc["customWorkflow"]) if doc.get("customWorkflow") else None,
        version=record.version,
    )


def role_to_record(role: CustomRole, record: CustomRoleRecord | None = None) -> CustomRoleRecord:
    record = record or CustomRoleRecord(id=role.id, creation_date=role.creation_date)
    record.key = role.key
    record.name = role.name
    record.description = role.description
    record.policy = [s.document() for s in role.policy]
    record.base_permissions = role.base_permissions
    record.last_modified = role.last_modified
    record.version = role.version
    return record


def role_from_record(record: CustomRoleRecord) -> CustomRole:
    return CustomRole(
        id=record.id,
        key=record.key,
        name=record.name,
        description=record.description,
        policy=parse_statements(record.policy, field="policy"),
        base_permissions=record.base_permissions,
        creation_date=record.creation_date,
        last_modified=record.last_modified,
        version=record.version,
    )
