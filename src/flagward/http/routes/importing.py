"""flagward's own: ``POST /api/v2/projects/{projectKey}/import`` takes one environment's LaunchDarkly SDK
payload (``{"flags": {...}, "segments": {...}}``), as ``flagward import`` does."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Query

from flagward.domain.import_items import Outcome, Plan
from flagward.http.deps import ActorDep, DepsDep
from flagward.http.routes._responses import returns
from flagward.http.schemas.importing import ImportRep
from flagward.services import importing as service

router = APIRouter(tags=["Import (flagward)"])


def plan_document(plan: Plan, *, dry_run: bool) -> dict[str, Any]:
    """The plan as the import's response (and the CLI's ``--json`` output)."""
    doc: dict[str, Any] = {"dryRun": dry_run}
    for outcomes, name in (
        ((Outcome.CREATE,), "created"),
        ((Outcome.UPDATE,), "updated"),
        ((Outcome.UNCHANGED, Outcome.REQUESTED), "unchanged"),  # REQUESTED: unchanged but for its requests
    ):
        doc[name] = [{"item": e.item, "detail": e.detail} for e in plan.entries if e.outcome in outcomes]
    doc["refused"] = [{"item": r.item, "path": r.path, "reason": r.reason} for r in plan.refusals]
    doc["requested"] = [
        {"item": r.item, "environmentKey": r.environment_key, "requestId": r.request_id} for r in plan.requests
    ]
    return doc


@router.post(
    "/api/v2/projects/{projectKey}/import",
    summary="Import flags and segments from a LaunchDarkly SDK payload",
    description="Creates the project and environment when missing. Each flag and segment is imported "
    "whole or refused (with its path and reason) on its own; salts, ids and versions are kept, so every "
    "context keeps its variation and bucket. Existing items that differ are refused unless update=true.",
    **returns(ImportRep),
)
def import_payload(
    actor: ActorDep,
    deps: DepsDep,
    projectKey: str,
    payload: Annotated[Any, Body()],
    environmentKey: Annotated[str, Query(description="The environment the payload is of")],
    dryRun: Annotated[bool, Query(description="Only say what would be done")] = False,
    update: Annotated[bool, Query(description="Replace existing items that differ")] = False,
    asRequests: Annotated[
        bool,
        Query(
            description="Where approval is required and the caller may not bypass it, make approval requests "
            "(the imported configuration, verbatim: replaceFlagConfiguration for a flag, "
            "replaceSegmentConfiguration for a segment) instead of refusing the flag or segment; a new "
            "flag is then created off and a new segment empty (its salt kept) until the request is applied"
        ),
    ] = False,
) -> dict[str, Any]:
    options = service.ImportOptions(dry_run=dryRun, update=update, as_requests=asRequests)
    plan = service.import_environment(
        deps, actor=actor, project_key=projectKey, env_key=environmentKey, payload=payload, options=options
    )
    return plan_document(plan, dry_run=dryRun)
