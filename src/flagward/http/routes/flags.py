from __future__ import annotations

from typing import Any

from fastapi import Response

from flagward.domain.errors import InvalidRequest
from flagward.http import presenters
from flagward.http.deps import ActorDep, ApiVersionDep, DepsDep, PageDep
from flagward.http.links import collection
from flagward.http.routes._filters import field_filters, plus_list
from flagward.http.routes._responses import returns
from flagward.http.routes._router import api_router
from flagward.http.schemas.flags import FeatureFlagBody
from flagward.http.schemas.read_flags import FeatureFlag, FeatureFlags
from flagward.services import flags as service
from flagward.services.ports import FlagQuery

router = api_router(tags=["Feature flags"])

# API versions that changed the flag list: summaries by default, then environments only on request.
SUMMARIES_BY_DEFAULT = 20191212
ENVIRONMENTS_ON_REQUEST = 20240415
_SORTS = {"name", "-name", "key", "-key", "creationDate", "-creationDate"}


def _bool(value: str, field: str) -> bool:
    if value.lower() in ("true", "1"):
        return True
    if value.lower() in ("false", "0"):
        return False
    raise InvalidRequest(f"{field} must be true or false")


def parse_flag_filter(raw: str | None) -> dict[str, Any]:
    """``filter=query:x,tags:a+b,archived:true,state:archived,filterEnv:production``."""
    filters = field_filters(raw, ("query", "tags", "archived", "state", "filterEnv"))
    result: dict[str, Any] = {k: v for k, v in filters.items() if k in ("query", "filterEnv")}
    if "tags" in filters:
        result["tags"] = plus_list(filters["tags"])
    if "archived" in filters:
        result["archived"] = _bool(filters["archived"], "filter archived")
    if "state" in filters:
        if filters["state"] not in ("live", "archived"):
            raise InvalidRequest("filter state must be live or archived")
        result["archived"] = filters["state"] == "archived"
    return result


def _env_keys(env: str | None, filter_env: str | None) -> list[str] | None:
    keys = [k for k in (env or "").split(",") if k] + ([filter_env] if filter_env else [])
    return keys or None


@router.get("/api/v2/flags/{projectKey}", summary="List feature flags", **returns(FeatureFlags))
def list_flags(
    actor: ActorDep,
    deps: DepsDep,
    projectKey: str,
    page: PageDep,
    env: str | None = None,
    tag: str | None = None,
    archived: bool | None = None,
    summary: str | None = None,
    filter: str | None = None,
    sort: str | None = None,
    *,
    version: ApiVersionDep,
) -> dict[str, Any]:
    filters = parse_flag_filter(filter)
    if sort is not None and sort not in _SORTS:
        raise InvalidRequest(f"sort must be one of {', '.join(sorted(_SORTS))}")
    tags = filters.get("tags", ()) + ((tag,) if tag else ())
    query = FlagQuery(
        query=filters.get("query"),
        tags=tags,
        archived=filters.get("archived", archived if archived is not None else False),
        sort=sort or "creationDate",
        page=page,
    )
    flags, total, envs = service.list_flags(deps, actor=actor, project_key=projectKey, query=query)
    env_keys = _env_keys(env, filters.get("filterEnv"))
    is_summary = version >= SUMMARIES_BY_DEFAULT if summary is None else _bool(summary, "summary")
    items = [presenters.flag(f, envs, env_keys=env_keys, summary=is_summary) for f in flags]
    if env_keys is None and version >= ENVIRONMENTS_ON_REQUEST:
        for item in items:  # since 20240415 only a list filtered by environment carries environments
            del item["environments"]
    params = {"env": env, "tag": tag, "summary": summary, "filter": filter, "sort": sort}
    return collection(f"/api/v2/flags/{projectKey}", items, total, page, params)


@router.post("/api/v2/flags/{projectKey}", status_code=201, summary="Create a feature flag", **returns(FeatureFlag))
def create_flag(actor: ActorDep, deps: DepsDep, projectKey: str, body: FeatureFlagBody) -> dict[str, Any]:
    flag, envs = service.create_flag(deps, actor=actor, project_key=projectKey, new=body.to_domain())
    return presenters.flag(flag, envs)


@router.get("/api/v2/flags/{projectKey}/{featureFlagKey}", summary="Get feature flag", **returns(FeatureFlag))
def get_flag(
    actor: ActorDep, deps: DepsDep, projectKey: str, featureFlagKey: str, env: str | None = None
) -> dict[str, Any]:
    flag, envs = service.get_flag(deps, actor=actor, project_key=projectKey, key=featureFlagKey)
    return presenters.flag(flag, envs, env_keys=_env_keys(env, None))


@router.delete("/api/v2/flags/{projectKey}/{featureFlagKey}", status_code=204, summary="Delete feature flag")
def delete_flag(actor: ActorDep, deps: DepsDep, projectKey: str, featureFlagKey: str) -> Response:
    service.delete_flag(deps, actor=actor, project_key=projectKey, key=featureFlagKey)
    return Response(status_code=204)
