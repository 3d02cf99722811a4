"""Segments, per environment."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Body, Request, Response

from flagward.domain.segment_changes import FLAGWARD_SEGMENT_INSTRUCTIONS, SEGMENT_INSTRUCTION_KINDS
from flagward.domain.segment_configuration import SEGMENT_CONFIGURATION_FIELDS
from flagward.http.deps import ActorDep, DepsDep, PageDep
from flagward.http.links import collection
from flagward.http.presenters_segments import segment as present
from flagward.http.routes._bodies import parse_patch
from flagward.http.routes._filters import field_filters
from flagward.http.routes._responses import returns
from flagward.http.routes._router import api_router
from flagward.http.schemas.changes import SegmentBody
from flagward.http.schemas.read_segments import UserSegment, UserSegments
from flagward.services import segments as service
from flagward.services.flag_changes import FlagPatch

router = api_router(tags=["Segments"])
BASE = "/api/v2/segments/{projectKey}/{environmentKey}"


def _query(filter: str | None) -> str | None:
    return field_filters(filter, ("query",)).get("query")


@router.get(BASE, summary="List segments", **returns(UserSegments))
def list_segments(
    actor: ActorDep, deps: DepsDep, projectKey: str, environmentKey: str, page: PageDep, filter: str | None = None
) -> dict[str, Any]:
    items, total = service.list_segments(
        deps, actor=actor, project_key=projectKey, env_key=environmentKey, query=_query(filter), page=page
    )
    path = f"/api/v2/segments/{projectKey}/{environmentKey}"
    return collection(path, [present(s) for s in items], total, page, {"filter": filter})


@router.post(BASE, status_code=201, summary="Create segment", **returns(UserSegment))
def create_segment(
    actor: ActorDep, deps: DepsDep, projectKey: str, environmentKey: str, body: SegmentBody
) -> dict[str, Any]:
    segment, _ = service.create_segment(
        deps, actor=actor, project_key=projectKey, env_key=environmentKey, new=body.to_domain()
    )
    return present(segment, [])


@router.get(BASE + "/{segmentKey}", summary="Get segment", **returns(UserSegment))
def get_segment(
    actor: ActorDep, deps: DepsDep, projectKey: str, environmentKey: str, segmentKey: str
) -> dict[str, Any]:
    segment, flags = service.get_segment(
        deps, actor=actor, project_key=projectKey, env_key=environmentKey, key=segmentKey
    )
    return present(segment, flags)


SEGMENT_INSTRUCTIONS_DOC = (
    "Semantic patch (``Content-Type: application/json; domain-model=launchdarkly.semanticpatch``, "
    "``{comment, instructions}``), JSON patch (an array, or ``{comment, patch}``) or JSON merge patch "
    "(``{comment, merge}``). Instruction kinds: LaunchDarkly's "
    + ", ".join(sorted(SEGMENT_INSTRUCTION_KINDS))
    + "; and flagward's own "
    + ", ".join(sorted(FLAGWARD_SEGMENT_INSTRUCTIONS))
    + ' (``{"kind": "replaceSegmentConfiguration", "configuration": {'
    + ", ".join(SEGMENT_CONFIGURATION_FIELDS)
    + "}}``: the segment's salt, targets and rules, verbatim, rule and clause ``_id``s kept; what "
    "``flagward import --as-requests`` proposes in an approval request where the environment's segments "
    "require approval). The same instructions are accepted in a segment's approval request "
    "(``POST /api/v2/approval-requests`` with ``resourceId`` ``proj/P:env/E:segment/S``)."
)


@router.patch(
    BASE + "/{segmentKey}", summary="Patch segment", description=SEGMENT_INSTRUCTIONS_DOC, **returns(UserSegment)
)
def patch_segment(
    request: Request,
    actor: ActorDep,
    deps: DepsDep,
    projectKey: str,
    environmentKey: str,
    segmentKey: str,
    payload: Annotated[Any, Body()],
    dryRun: bool = False,
) -> dict[str, Any]:
    body = parse_patch(request, payload, merge=True, semantic=True)
    segment = service.patch_segment(
        deps,
        actor=actor,
        project_key=projectKey,
        env_key=environmentKey,
        key=segmentKey,
        patch=FlagPatch(body.kind, body.operations, body.comment),
        dry_run=dryRun,
    )
    return present(segment)


@router.delete(BASE + "/{segmentKey}", status_code=204, summary="Delete segment")
def delete_segment(actor: ActorDep, deps: DepsDep, projectKey: str, environmentKey: str, segmentKey: str) -> Response:
    service.delete_segment(deps, actor=actor, project_key=projectKey, env_key=environmentKey, key=segmentKey)
    return Response(status_code=204)
