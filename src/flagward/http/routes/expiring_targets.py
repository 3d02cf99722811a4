"""Expiring targets of flags and segments (LaunchDarkly's ``expiring-targets`` API)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Body, Request

from flagward.domain import expiring_targets as domain
from flagward.domain.errors import InvalidRequest
from flagward.http.deps import ActorDep, DepsDep
from flagward.http.links import links
from flagward.http.routes._bodies import comment_of
from flagward.http.routes._responses import returns
from flagward.http.routes._router import api_router
from flagward.http.schemas.schedules import ExpiringTargetGetResponse, ExpiringTargetPatchResponse
from flagward.services import expiring_targets as service
from flagward.services.expiring_targets import PatchResult

router = api_router(tags=["Feature flags", "Segments"])
FLAG_PATH = "/api/v2/flags/{projectKey}/{featureFlagKey}/expiring-targets/{environmentKey}"
SEGMENT_PATH = "/api/v2/segments/{projectKey}/{segmentKey}/expiring-targets/{environmentKey}"


def _instructions(payload: Any) -> tuple[Any, str | None]:
    if not isinstance(payload, dict) or not isinstance(payload.get("instructions"), list):
        raise InvalidRequest("a semantic patch needs an 'instructions' array")
    return payload["instructions"], comment_of(payload)


def _patched(result: PatchResult, self_href: str) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "items": [t.document() for t in result.items],
        "_links": links(self_href),
        "totalInstructions": result.total,
        "successfulInstructions": result.total - len(result.errors),
        "failedInstructions": len(result.errors),
    }
    if result.errors:
        doc["errors"] = [{"instructionIndex": i, "message": m} for i, m in result.errors]
    return doc


@router.get(FLAG_PATH, summary="Get expiring context targets for feature flag", **returns(ExpiringTargetGetResponse))
def get_flag_expiring(
    request: Request, actor: ActorDep, deps: DepsDep, projectKey: str, featureFlagKey: str, environmentKey: str
) -> dict[str, Any]:
    items = service.get_expiring(
        deps, actor=actor, kind=domain.FLAG, project_key=projectKey, key=featureFlagKey, env_key=environmentKey
    )
    return {"items": [t.document() for t in items], "_links": links(request.url.path)}


@router.patch(
    FLAG_PATH, summary="Update expiring context targets on feature flag", **returns(ExpiringTargetPatchResponse)
)
def patch_flag_expiring(
    request: Request,
    actor: ActorDep,
    deps: DepsDep,
    projectKey: str,
    featureFlagKey: str,
    environmentKey: str,
    payload: Annotated[Any, Body()],
) -> dict[str, Any]:
    """Semantic patch: ``addExpiringTarget``, ``updateExpiringTarget``, ``removeExpiringTarget``."""
    instructions, comment = _instructions(payload)
    result = service.patch_expiring(
        deps,
        actor=actor,
        kind=domain.FLAG,
        project_key=projectKey,
        key=featureFlagKey,
        env_key=environmentKey,
        instructions=instructions,
        comment=comment,
    )
    return _patched(result, request.url.path)


@router.get(SEGMENT_PATH, summary="Get expiring targets for segment", **returns(ExpiringTargetGetResponse))
def get_segment_expiring(
    request: Request, actor: ActorDep, deps: DepsDep, projectKey: str, segmentKey: str, environmentKey: str
) -> dict[str, Any]:
    items = service.get_expiring(
        deps, actor=actor, kind=domain.SEGMENT, project_key=projectKey, key=segmentKey, env_key=environmentKey
    )
    return {"items": [t.document() for t in items], "_links": links(request.url.path)}


@router.patch(SEGMENT_PATH, summary="Update expiring targets for segment", **returns(ExpiringTargetPatchResponse))
def patch_segment_expiring(
    request: Request,
    actor: ActorDep,
    deps: DepsDep,
    projectKey: str,
    segmentKey: str,
    environmentKey: str,
    payload: Annotated[Any, Body()],
) -> dict[str, Any]:
    """Semantic patch: ``addExpiringTarget``, ``updateExpiringTarget``, ``removeExpiringTarget`` with
    ``targetType`` included or excluded."""
    instructions, comment = _instructions(payload)
    result = service.patch_expiring(
        deps,
        actor=actor,
        kind=domain.SEGMENT,
        project_key=projectKey,
        key=segmentKey,
        env_key=environmentKey,
        instructions=instructions,
        comment=comment,
    )
    return _patched(result, request.url.path)
