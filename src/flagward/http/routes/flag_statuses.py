"""Flag statuses: when SDKs last evaluated each flag, and LaunchDarkly's status name for it."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from flagward.domain.flag_statuses import FlagStatus
from flagward.http.deps import ActorDep, DepsDep
from flagward.http.links import link, links
from flagward.http.routes._responses import returns
from flagward.http.routes._router import api_router
from flagward.http.schemas.read_flags import (
    FeatureFlagStatusAcrossEnvironments,
    FeatureFlagStatuses,
    FlagStatusRep,
)
from flagward.services import flag_statuses as service

router = api_router(tags=["Feature flags"])


def _rfc3339(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _status(status: FlagStatus) -> dict[str, Any]:
    doc: dict[str, Any] = {"name": status.name.value}
    if status.last_requested is not None:
        doc["lastRequested"] = _rfc3339(status.last_requested)
    if status.has_default:
        doc["default"] = status.default
    return doc


def _rep(project_key: str, env_key: str, status: FlagStatus) -> dict[str, Any]:
    return {
        **_status(status),
        "_links": links(
            f"/api/v2/flag-statuses/{project_key}/{env_key}/{status.flag_key}",
            f"/api/v2/flags/{project_key}/{status.flag_key}",
        ),
    }


@router.get(
    "/api/v2/flag-statuses/{projectKey}/{environmentKey}",
    summary="List feature flag statuses",
    **returns(FeatureFlagStatuses),
)
def list_flag_statuses(actor: ActorDep, deps: DepsDep, projectKey: str, environmentKey: str) -> dict[str, Any]:
    statuses = service.list_flag_statuses(deps, actor=actor, project_key=projectKey, env_key=environmentKey)
    return {
        "_links": {"self": link(f"/api/v2/flag-statuses/{projectKey}/{environmentKey}")},
        "items": [_rep(projectKey, environmentKey, s) for s in statuses],
    }


@router.get(
    "/api/v2/flag-statuses/{projectKey}/{environmentKey}/{featureFlagKey}",
    summary="Get feature flag status",
    **returns(FlagStatusRep),
)
def get_flag_status(
    actor: ActorDep, deps: DepsDep, projectKey: str, environmentKey: str, featureFlagKey: str
) -> dict[str, Any]:
    status = service.get_flag_status(
        deps, actor=actor, project_key=projectKey, env_key=environmentKey, flag_key=featureFlagKey
    )
    return _rep(projectKey, environmentKey, status)


@router.get(
    "/api/v2/flag-status/{projectKey}/{featureFlagKey}",
    summary="Get flag status across environments",
    **returns(FeatureFlagStatusAcrossEnvironments),
)
def get_flag_status_across_environments(
    actor: ActorDep, deps: DepsDep, projectKey: str, featureFlagKey: str, env: str | None = None
) -> dict[str, Any]:
    statuses = service.get_flag_status_across_environments(
        deps, actor=actor, project_key=projectKey, flag_key=featureFlagKey, env_key=env
    )
    return {
        "environments": {key: _status(s) for key, s in statuses.items()},
        "key": featureFlagKey,
        "_links": links(f"/api/v2/flag-status/{projectKey}/{featureFlagKey}", "/api/v2/flag-status"),
    }
