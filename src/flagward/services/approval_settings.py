"""Project approval settings per resource kind (LaunchDarkly's beta settings API). Flag settings are the
environments' ``approvalSettings``; segment settings live beside them."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from flagward.domain.accounts import Actor
from flagward.domain.approvals import ResourceKind
from flagward.domain.audit import AuditAction, environment_spec
from flagward.domain.authorization import authorize
from flagward.domain.errors import InvalidRequest
from flagward.domain.events import EnvironmentChanged
from flagward.domain.projects import ApprovalSettings, Environment
from flagward.domain.representations import SEGMENT_NOTE_FIELD, approval_settings, flag_approval_settings
from flagward.services._common import environment_in, load_environment, load_project, record_audit
from flagward.services.authz import authorize_project_read, environment_resource, visible_environments
from flagward.services.environments import check_service_endpoint, parse_approval_settings
from flagward.services.ports import Deps
from flagward.services.review_teams import check_required_teams


def _kinds(resource_kind: str | None) -> list[ResourceKind]:
    if resource_kind is None:
        return list(ResourceKind)
    try:
        return [ResourceKind(resource_kind)]
    except ValueError:
        raise InvalidRequest("resourceKind must be flag or segment") from None


def _settings(env: Environment, kind: ResourceKind) -> ApprovalSettings:
    return env.approval_settings if kind is ResourceKind.FLAG else env.segment_approval_settings


def get_settings(
    deps: Deps, *, actor: Actor, project_key: str, environment_key: str | None, resource_kind: str | None
) -> dict[str, Any]:
    """``{resourceKind: {environments: {envKey: settings}, _default: settings}}``, for the environments
    the actor may view."""
    authorize_project_read(actor, project_key)
    kinds = _kinds(resource_kind)
    with deps.uow(write=False) as uow:
        load_project(uow, project_key)
        envs = visible_environments(actor, uow.environments.find(project_key)[0])
    if environment_key is not None:
        envs = [environment_in(envs, project_key, environment_key)]
    return {
        kind.value: {
            "environments": {e.key: _document(e, kind) for e in envs},
            "_default": _document(None, kind),
        }
        for kind in kinds
    }


def _document(env: Environment | None, kind: ResourceKind) -> dict[str, Any]:
    """The settings as served; flag settings say whether segment changes need approval too."""
    if env is None:
        doc = approval_settings(ApprovalSettings())
        return {**doc, SEGMENT_NOTE_FIELD: False} if kind is ResourceKind.FLAG else doc
    return flag_approval_settings(env) if kind is ResourceKind.FLAG else approval_settings(_settings(env, kind))


_FIELDS = (
    "required",
    "bypassApprovalsForPendingChanges",
    "minNumApprovals",
    "canReviewOwnRequest",
    "canApplyDeclinedChanges",
    "requiredApprovalTags",
    "serviceKind",
    "serviceConfig",
    "autoApplyApprovedChanges",
    "serviceKindConfigurationId",
    "requiredReviewers",
)


def patch_settings(deps: Deps, *, actor: Actor, project_key: str, body: dict[str, Any]) -> dict[str, Any]:
    """Change one environment's settings for one resource kind; only the fields given change
    (``updateApprovalSettings`` on the environment)."""
    env_key, kind_name = body.get("environmentKey"), body.get("resourceKind")
    authorize_project_read(actor, project_key)
    if not isinstance(env_key, str) or not isinstance(kind_name, str):
        raise InvalidRequest("environmentKey and resourceKind are required")
    kind = _kinds(kind_name)[0]
    with deps.uow() as uow:
        env = load_environment(uow, project_key, env_key, for_update=True)
        authorize(actor, "updateApprovalSettings", environment_resource(env))
        current = approval_settings(_settings(env, kind))
        merged = {**current, **{k: v for k, v in body.items() if k in _FIELDS}}
        if "autoApplyApprovedChanges" in merged and merged["autoApplyApprovedChanges"] is None:
            merged.pop("autoApplyApprovedChanges")
        if merged.get("serviceKindConfigurationId") is None:
            merged.pop("serviceKindConfigurationId", None)
        updated = parse_approval_settings(merged)
        if updated != _settings(env, kind):
            check_service_endpoint(deps, updated)
            check_required_teams(uow, _settings(env, kind), updated)
            if kind is ResourceKind.FLAG:
                env = replace(env, approval_settings=updated)
            else:
                env = replace(env, segment_approval_settings=updated)
            env.version += 1
            uow.environments.update(env)
            record_audit(
                uow,
                deps.clock,
                actor,
                kind="environment",
                name=env.name,
                actions=[AuditAction.UPDATE_APPROVAL_REQUEST_SETTINGS],
                resource=environment_spec(project_key, env_key),
                title_verb="updated",
                description=f"Updated {kind.value} approval settings of environment {env.name}",
                previous=current,
                current=approval_settings(updated),
            )
            uow.publish(EnvironmentChanged(environment_id=env.id))
        uow.commit()
    return {kind.value: {"environments": {env.key: _document(env, kind)}}}
