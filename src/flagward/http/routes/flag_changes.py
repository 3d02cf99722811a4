"""PATCH a flag (semantic, JSON or merge patch) and copy its configuration between environments."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Body, Request

from flagward.http import presenters
from flagward.http.deps import ActorDep, DepsDep
from flagward.http.routes._bodies import parse_patch
from flagward.http.routes._responses import returns
from flagward.http.routes._router import api_router
from flagward.http.schemas.changes import FlagCopyConfigPost
from flagward.http.schemas.read_flags import FeatureFlag
from flagward.services import copy as copy_service
from flagward.services import flag_changes
from flagward.services.flag_changes import FlagPatch

router = api_router(tags=["Feature flags"])


@router.patch("/api/v2/flags/{projectKey}/{featureFlagKey}", summary="Update feature flag", **returns(FeatureFlag))
def patch_flag(
    request: Request,
    actor: ActorDep,
    deps: DepsDep,
    projectKey: str,
    featureFlagKey: str,
    payload: Annotated[Any, Body()],
    dryRun: bool = False,
    ignoreConflicts: bool = False,
) -> dict[str, Any]:
    """Semantic patch (``Content-Type: application/json; domain-model=launchdarkly.semanticpatch``),
    JSON patch (an array, or ``{comment, patch}``) or JSON merge patch (``{comment, merge}``)."""
    body = parse_patch(request, payload, merge=True, semantic=True)
    flag, envs = flag_changes.update_flag(
        deps,
        actor=actor,
        project_key=projectKey,
        key=featureFlagKey,
        patch=FlagPatch(body.kind, body.operations, body.comment, body.environment_key),
        dry_run=dryRun,
        ignore_conflicts=ignoreConflicts,
    )
    return presenters.flag(flag, envs)


@router.post(
    "/api/v2/flags/{projectKey}/{featureFlagKey}/copy",
    status_code=201,
    summary="Copy feature flag",
    **returns(FeatureFlag),
)
def copy_flag(
    actor: ActorDep, deps: DepsDep, projectKey: str, featureFlagKey: str, body: FlagCopyConfigPost
) -> dict[str, Any]:
    included, excluded = body.actions()
    flag, envs = copy_service.copy_flag_config(
        deps,
        actor=actor,
        project_key=projectKey,
        key=featureFlagKey,
        source=body.source.to_domain(),
        target=body.target.to_domain(),
        included=included,
        excluded=excluded,
        comment=body.comment,
    )
    return presenters.flag(flag, envs)
