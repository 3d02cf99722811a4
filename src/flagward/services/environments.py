"""Environments: create (giving every flag a configuration), read, JSON-patch, reset keys, delete."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from flagward.domain import resources
from flagward.domain.accounts import Actor
from flagward.domain.approval_services import check_endpoint
from flagward.domain.audit import AuditAction, environment_spec
from flagward.domain.authorization import authorize, authorize_all
from flagward.domain.errors import Conflict, InvalidRequest
from flagward.domain.events import EnvironmentChanged
from flagward.domain.flags import new_config
from flagward.domain.ids import new_object_id, new_secret, validate_key
from flagward.domain.projects import ApprovalSettings, Environment, Project
from flagward.domain.representations import SEGMENT_NOTE_FIELD, environment_document
from flagward.domain.review_policy import parse_required_reviewers
from flagward.services._common import load_environment, load_project, record_audit
from flagward.services.authz import (
    authorize_environment_read,
    authorize_project_read,
    environment_resource,
    visible_environments,
)
from flagward.services.patching import apply_json_patch
from flagward.services.ports import Deps, Page
from flagward.services.review_teams import check_required_teams


@dataclass(frozen=True)
class NewEnvironment:
    key: str
    name: str
    color: str
    default_ttl: int = 0
    secure_mode: bool = False
    default_track_events: bool = False
    confirm_changes: bool = False
    require_comments: bool = False
    tags: list[str] = field(default_factory=list)
    critical: bool = False


def new_sdk_key() -> str:
    return new_secret("sdk-")


def new_mobile_key() -> str:
    return new_secret("mob-")


def build_environment(project: Project, spec: NewEnvironment, *, now: int) -> Environment:
    validate_key(spec.key, field="key")
    env = Environment(
        id=new_object_id(),
        project_id=project.id,
        project_key=project.key,
        key=spec.key,
        name=spec.name,
        api_key=new_sdk_key(),
        mobile_key=new_mobile_key(),
        color=spec.color,
        creation_date=now,
        default_ttl=spec.default_ttl,
        secure_mode=spec.secure_mode,
        default_track_events=spec.default_track_events,
        require_comments=spec.require_comments,
        confirm_changes=spec.confirm_changes,
        tags=list(spec.tags),
        critical=spec.critical,
    )
    env.validate()
    return env


def create_environment(deps: Deps, *, actor: Actor, project_key: str, new: NewEnvironment) -> Environment:
    """Create an environment; every existing flag of the project gets an initial configuration."""
    authorize(actor, "createEnvironment", resources.environment(project_key, new.key, new.tags))
    with deps.uow() as uow:
        project = load_project(uow, project_key, for_update=True)
        if uow.environments.get(project_key, new.key) is not None:
            raise Conflict(f"An environment with key '{new.key}' already exists in project '{project_key}'")
        now = deps.clock.now_ms()
        env = build_environment(project, new, now=now)
        uow.environments.add(env)
        flags = uow.flags.list_all(project_key)
        uow.flags.add_environment(
            project_key,
            env.key,
            {f.key: new_config(f.defaults, now=now, track_events=env.default_track_events) for f in flags},
        )
        record_audit(
            uow,
            deps.clock,
            actor,
            kind="environment",
            name=env.name,
            actions=[AuditAction.CREATE_ENVIRONMENT],
            resource=environment_spec(project_key, env.key),
            title_verb="created",
            description=f"Created environment {env.name} in project {project.name}",
            current=_audit_doc(env),
        )
        uow.publish(EnvironmentChanged(environment_id=env.id))
        uow.commit()
    return env


def get_environment(deps: Deps, *, actor: Actor, project_key: str, key: str) -> Environment:
    authorize_project_read(actor, project_key)
    with deps.uow(write=False) as uow:
        env = load_environment(uow, project_key, key)
    authorize_environment_read(actor, env)
    return env


def get_environment_credentials(deps: Deps, *, actor: Actor, project_key: str, key: str) -> Environment:
    """The environment, for showing its SDK key, mobile key and client-side ID in full (``viewSdkKey``)."""
    env = get_environment(deps, actor=actor, project_key=project_key, key=key)
    authorize(actor, "viewSdkKey", environment_resource(env))
    return env


def list_environments(deps: Deps, *, actor: Actor, project_key: str, page: Page) -> tuple[list[Environment], int]:
    """A page of the project's environments, without those the actor may not view."""
    authorize_project_read(actor, project_key)
    with deps.uow(write=False) as uow:
        load_project(uow, project_key)
        found, total = uow.environments.find(project_key, page)
    shown = visible_environments(actor, found)
    return shown, total - (len(found) - len(shown))


_WRITABLE = (
    "name",
    "color",
    "defaultTtl",
    "secureMode",
    "defaultTrackEvents",
    "requireComments",
    "confirmChanges",
    "tags",
    "critical",
    "approvalSettings",
)
_SETTINGS_FIELDS = {
    "required": "required",
    "bypassApprovalsForPendingChanges": "bypass_approvals_for_pending_changes",
    "minNumApprovals": "min_num_approvals",
    "canReviewOwnRequest": "can_review_own_request",
    "canApplyDeclinedChanges": "can_apply_declined_changes",
    "requiredApprovalTags": "required_approval_tags",
    "serviceKind": "service_kind",
    "serviceConfig": "service_config",
    "autoApplyApprovedChanges": "auto_apply_approved_changes",
    "serviceKindConfigurationId": "service_kind_configuration_id",
    "requiredReviewers": "required_reviewers",
}


def check_service_endpoint(deps: Deps, settings: ApprovalSettings) -> None:
    """Refuse an external approval service at an address flagward must not call (InvalidRequest;
    ``flagward.domain.approval_services.check_endpoint``)."""
    service = settings.external
    if service is not None:
        check_endpoint(service.url, allow_private=deps.external.allow_private)


def parse_approval_settings(raw: object, *, field: str = "approvalSettings") -> ApprovalSettings:
    """Settings from their LaunchDarkly document; a missing field takes LaunchDarkly's default."""
    if not isinstance(raw, dict):
        raise InvalidRequest(f"{field} must be an object")
    values: dict[str, Any] = {}
    for name, value in raw.items():
        if name in ("resourceKind", SEGMENT_NOTE_FIELD):
            continue  # read-only: the resource kind is given elsewhere, the note derives from segment settings
        if name not in _SETTINGS_FIELDS:
            raise InvalidRequest(f"{field}.{name} is not an approval setting")
        if name == "requiredApprovalTags" and not isinstance(value, list):
            raise InvalidRequest(f"{field}.requiredApprovalTags must be a list of strings")
        if name == "serviceConfig" and not isinstance(value, dict):
            raise InvalidRequest(f"{field}.serviceConfig must be an object")
        if name == "requiredReviewers":
            values["required_reviewers"] = parse_required_reviewers(value, field=f"{field}.requiredReviewers")
            continue
        values[_SETTINGS_FIELDS[name]] = tuple(value) if name == "requiredApprovalTags" else value
    try:
        return ApprovalSettings(**values).validated()
    except InvalidRequest as exc:
        raise InvalidRequest(exc.message.replace("approvalSettings", field)) from None


def patch_environment(
    deps: Deps, *, actor: Actor, project_key: str, key: str, patch: object, comment: str | None = None
) -> Environment:
    """JSON patch of the environment's settings, ``/approvalSettings/<field>`` included. Each changed
    field is authorized as its action on the environment (``environment_patch_actions``)."""
    authorize_project_read(actor, project_key)
    with deps.uow() as uow:
        env = load_environment(uow, project_key, key, for_update=True)
        before = environment_document(env)
        after = apply_json_patch(before, patch, writable=_WRITABLE)
        # A patch that changes nothing still answers the environment: at least viewing it must be allowed.
        actions = environment_patch_actions(before, after) or ["viewEnvironment"]
        authorize_all(actor, [(a, environment_resource(env)) for a in actions])
        updated = _environment_from_document(env, after)
        updated.validate()
        if updated.approval_settings != env.approval_settings:
            check_service_endpoint(deps, updated.approval_settings)
            check_required_teams(uow, env.approval_settings, updated.approval_settings)
        actions = [AuditAction.UPDATE_ENVIRONMENT] if _core(after) != _core(before) else []
        if updated.approval_settings != env.approval_settings:
            actions.append(AuditAction.UPDATE_APPROVAL_SETTINGS)
        if actions:
            updated.version += 1
            uow.environments.update(updated)
            record_audit(
                uow,
                deps.clock,
                actor,
                kind="environment",
                name=updated.name,
                actions=actions,
                resource=environment_spec(project_key, key),
                title_verb="updated",
                description=f"Updated environment {updated.name}",
                comment=comment,
                previous=_audit_doc(env),
                current=_audit_doc(updated),
            )
            uow.publish(EnvironmentChanged(environment_id=env.id))
        uow.commit()
    return updated


# LaunchDarkly's environment actions, by the field they change.
_FIELD_ACTIONS = (
    ("name", "updateName"),
    ("color", "updateColor"),
    ("defaultTtl", "updateTtl"),
    ("secureMode", "updateSecureMode"),
    ("defaultTrackEvents", "updateDefaultTrackEvents"),
    ("requireComments", "updateRequireComments"),
    ("confirmChanges", "updateConfirmChanges"),
    ("tags", "updateTags"),
    ("critical", "updateCritical"),
    ("approvalSettings", "updateApprovalSettings"),
)


def environment_patch_actions(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    """The actions an environment patch performs, one per changed field."""
    return [action for name, action in _FIELD_ACTIONS if before.get(name) != after.get(name)]


def _core(doc: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in doc.items() if k != "approvalSettings"}


def _environment_from_document(env: Environment, doc: dict[str, Any]) -> Environment:
    if set(_WRITABLE) - set(doc):
        missing = sorted(set(_WRITABLE) - set(doc))
        raise InvalidRequest(f"{missing[0]} cannot be removed")
    return replace(
        env,
        name=doc["name"],
        color=doc["color"],
        default_ttl=doc["defaultTtl"],
        secure_mode=doc["secureMode"],
        default_track_events=doc["defaultTrackEvents"],
        require_comments=doc["requireComments"],
        confirm_changes=doc["confirmChanges"],
        tags=doc["tags"],
        critical=doc["critical"],
        approval_settings=parse_approval_settings(doc["approvalSettings"]),
    )


def _audit_doc(env: Environment) -> dict[str, Any]:
    # SDK and mobile keys are secrets; the audit log must not carry them.
    doc = environment_document(env)
    doc.pop("apiKey")
    doc.pop("mobileKey")
    return doc


def reset_key(
    deps: Deps, *, actor: Actor, project_key: str, key: str, mobile: bool, expiry: int | None = None
) -> Environment:
    """Give the environment a new SDK key (or mobile key). Streams using the old key are closed.
    Authorized as ``updateMobileKey`` or ``updateApiKey`` on the environment."""
    authorize_project_read(actor, project_key)
    if expiry is not None:
        raise InvalidRequest("expiry is not supported: the old key stops working at once")
    with deps.uow() as uow:
        env = load_environment(uow, project_key, key, for_update=True)
        authorize(actor, "updateMobileKey" if mobile else "updateApiKey", environment_resource(env))
        if mobile:
            env.mobile_key = new_mobile_key()
        else:
            env.api_key = new_sdk_key()
        env.version += 1
        uow.environments.update(env)
        record_audit(
            uow,
            deps.clock,
            actor,
            kind="environment",
            name=env.name,
            actions=[AuditAction.RESET_MOBILE_KEY if mobile else AuditAction.RESET_SDK_KEY],
            resource=environment_spec(project_key, key),
            title_verb="reset",
            description=f"Reset the {'mobile' if mobile else 'SDK'} key of environment {env.name}",
        )
        uow.publish(EnvironmentChanged(environment_id=env.id, reset_credentials=True))
        uow.commit()
    return env


def delete_environment(deps: Deps, *, actor: Actor, project_key: str, key: str) -> None:
    authorize_project_read(actor, project_key)
    with deps.uow() as uow:
        env = load_environment(uow, project_key, key, for_update=True)
        authorize(actor, "deleteEnvironment", environment_resource(env))
        _, total = uow.environments.find(project_key)
        if total <= 1:
            raise InvalidRequest("A project must keep at least one environment")
        uow.environments.delete(env)
        record_audit(
            uow,
            deps.clock,
            actor,
            kind="environment",
            name=env.name,
            actions=[AuditAction.DELETE_ENVIRONMENT],
            resource=environment_spec(project_key, key),
            title_verb="deleted",
            description=f"Deleted environment {env.name}",
            previous=_audit_doc(env),
        )
        uow.publish(EnvironmentChanged(environment_id=env.id, deleted=True))
        uow.commit()
