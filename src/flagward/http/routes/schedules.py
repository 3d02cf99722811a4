"""Scheduled changes (LaunchDarkly's ``/scheduled-changes`` of a flag in one environment)."""

from __future__ import annotations

from typing import Any

from fastapi import Response

from flagward.http.deps import ActorDep, DepsDep
from flagward.http.links import links
from flagward.http.openapi import FLAG_ENV
from flagward.http.routes._responses import returns
from flagward.http.routes._router import api_router
from flagward.http.schemas.schedules import (
    FeatureFlagScheduledChange,
    FeatureFlagScheduledChanges,
    FlagScheduledChangesInput,
    PostFlagScheduledChangesInput,
)
from flagward.services import scheduled_changes as service
from flagward.services.scheduled_changes import ScheduledChangeView

router = api_router(tags=["Scheduled changes"])
PATH = f"{FLAG_ENV}/scheduled-changes"


def _base(project_key: str, flag_key: str, env_key: str) -> str:
    return f"/api/v2/projects/{project_key}/flags/{flag_key}/environments/{env_key}/scheduled-changes"


def _rep(view: ScheduledChangeView) -> dict[str, Any]:
    change = view.change
    base = _base(change.project_key, change.flag_key, change.environment_key)
    doc: dict[str, Any] = {
        "_id": change.id,
        "_creationDate": change.creation_date,
        "_maintainerId": change.maintainer_id or change.maintainer_token_id or "",
        "_version": change.version,
        "executionDate": change.execution_date,
        "instructions": change.instructions,
        "status": "deleted" if view.deleted else change.status.value,
        "_links": links(f"{base}/{change.id}", base),
    }
    if view.conflicts:
        doc["conflicts"] = view.conflicts
    if change.failure_reason:
        doc["failureReason"] = change.failure_reason
    return doc


@router.get(PATH, summary="List scheduled changes", **returns(FeatureFlagScheduledChanges))
def list_changes(
    actor: ActorDep, deps: DepsDep, projectKey: str, featureFlagKey: str, environmentKey: str
) -> dict[str, Any]:
    views = service.list_changes(
        deps, actor=actor, project_key=projectKey, flag_key=featureFlagKey, env_key=environmentKey
    )
    base = _base(projectKey, featureFlagKey, environmentKey)
    return {"items": [_rep(v) for v in views], "_links": links(base)}


@router.post(PATH, status_code=201, summary="Create scheduled changes workflow", **returns(FeatureFlagScheduledChange))
def post_change(
    actor: ActorDep,
    deps: DepsDep,
    projectKey: str,
    featureFlagKey: str,
    environmentKey: str,
    body: PostFlagScheduledChangesInput,
    ignoreConflicts: bool = False,
) -> dict[str, Any]:
    view = service.create_change(
        deps,
        actor=actor,
        project_key=projectKey,
        flag_key=featureFlagKey,
        env_key=environmentKey,
        execution_date=body.executionDate,
        instructions=body.instructions,
        comment=body.comment,
        ignore_conflicts=ignoreConflicts,
    )
    return _rep(view)


@router.get(f"{PATH}/{{id}}", summary="Get a scheduled change", **returns(FeatureFlagScheduledChange))
def get_change(
    actor: ActorDep, deps: DepsDep, projectKey: str, featureFlagKey: str, environmentKey: str, id: str
) -> dict[str, Any]:
    view = service.get_change(
        deps, actor=actor, project_key=projectKey, flag_key=featureFlagKey, env_key=environmentKey, change_id=id
    )
    return _rep(view)


@router.patch(f"{PATH}/{{id}}", summary="Update scheduled changes workflow", **returns(FeatureFlagScheduledChange))
def patch_change(
    actor: ActorDep,
    deps: DepsDep,
    projectKey: str,
    featureFlagKey: str,
    environmentKey: str,
    id: str,
    body: FlagScheduledChangesInput,
    ignoreConflicts: bool = False,
) -> dict[str, Any]:
    """Semantic patch: ``replaceScheduledChangesInstructions``, ``updateScheduledChangesExecutionDate``,
    ``deleteScheduledChange`` (answered with the change as it was, ``status`` deleted)."""
    view = service.update_change(
        deps,
        actor=actor,
        project_key=projectKey,
        flag_key=featureFlagKey,
        env_key=environmentKey,
        change_id=id,
        instructions=body.instructions,
        comment=body.comment,
        ignore_conflicts=ignoreConflicts,
    )
    return _rep(view)


@router.delete(f"{PATH}/{{id}}", status_code=204, summary="Delete scheduled changes workflow")
def delete_change(
    actor: ActorDep, deps: DepsDep, projectKey: str, featureFlagKey: str, environmentKey: str, id: str
) -> Response:
    service.delete_change(
        deps, actor=actor, project_key=projectKey, flag_key=featureFlagKey, env_key=environmentKey, change_id=id
    )
    return Response(status_code=204)
