"""flagward's own: ``POST /api/v2/projects/{projectKey}/import`` takes what ``flagward import`` takes: one
environment's LaunchDarkly SDK payload (``{"flags": {...}, "segments": {...}}``, ``format=sdk``, the
default), or the project's REST representations (``format=rest``: an object from relative path to
document, as ``flagward export --format rest`` writes them: ``projects/P.json``, ``flags/P/F.json``,
``segments/P/E/S.json``)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import Body, Query

from flagward.domain.errors import InvalidRequest
from flagward.domain.import_items import Outcome, Plan
from flagward.http.deps import ActorDep, DepsDep
from flagward.http.routes._responses import returns
from flagward.http.routes._router import api_router
from flagward.http.schemas.importing import ImportRep
from flagward.services import importing as service

router = api_router(tags=["Import (flagward)"])


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
    summary="Import flags and segments from a LaunchDarkly SDK payload or REST representations",
    description="Creates the project and environment when missing. Each flag and segment is imported "
    "whole or refused (with its path and reason) on its own; salts, ids and versions are kept, so every "
    "context keeps its variation and bucket. Existing items that differ are refused unless update=true. "
    "format=sdk (the default): the body is one environment's SDK payload, environmentKey names it. "
    "format=rest: the body maps relative paths (projects/P.json, flags/P/F.json, segments/P/E/S.json) to "
    "LaunchDarkly's REST representations of this project, its flags and segments (names, descriptions, "
    "tags, maintainers and approval settings come along); files of other projects are refused.",
    **returns(ImportRep),
)
def import_payload(
    actor: ActorDep,
    deps: DepsDep,
    projectKey: str,
    payload: Annotated[Any, Body()],
    environmentKey: Annotated[
        str | None, Query(description="The environment the SDK payload is of (format=sdk; required there)")
    ] = None,
    format: Annotated[
        Literal["sdk", "rest"], Query(description="sdk: an SDK payload; rest: REST representations by path")
    ] = "sdk",
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
    if format == "rest":
        if environmentKey is not None:
            raise InvalidRequest("environmentKey is for format=sdk: REST representations name their environments")
        if not isinstance(payload, dict):
            raise InvalidRequest("format=rest takes an object from relative path to REST representation")
        plan = service.import_rest(deps, actor=actor, files=payload, options=options, only_project=projectKey)
        return plan_document(plan, dry_run=dryRun)
    if environmentKey is None:
        raise InvalidRequest("environmentKey is required: the environment the SDK payload is of")
    plan = service.import_environment(
        deps, actor=actor, project_key=projectKey, env_key=environmentKey, payload=payload, options=options
    )
    return plan_document(plan, dry_run=dryRun)
