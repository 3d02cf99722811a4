from __future__ import annotations

from typing import Annotated, Any

from fastapi import Body, Query, Request, Response

from flagward.domain.accounts import Actor
from flagward.domain.errors import InvalidRequest
from flagward.domain.projects import Environment as EnvironmentRecord
from flagward.http import presenters
from flagward.http.deps import ActorDep, ApiVersionDep, DepsDep, PageDep
from flagward.http.links import collection
from flagward.http.routes._bodies import json_patch_only
from flagward.http.routes._filters import field_filters, plus_list
from flagward.http.routes._responses import returns
from flagward.http.routes._router import api_router
from flagward.http.schemas.projects import EnvironmentPost, ProjectPost
from flagward.http.schemas.read_projects import Environment, Environments, Project, ProjectRep, Projects
from flagward.services import environments as env_service
from flagward.services import projects as service
from flagward.services.authz import with_keys_shown_to
from flagward.services.ports import ProjectQuery

router = api_router(tags=["Projects"])
env_router = api_router(tags=["Environments"])


def _shown(actor: Actor, envs: list[EnvironmentRecord]) -> list[EnvironmentRecord]:
    """The environments with their SDK and mobile keys masked where the actor may not ``viewSdkKey``."""
    return [with_keys_shown_to(actor, e) for e in envs]


def _expand(expand: str | None) -> set[str]:
    return {e.strip() for e in (expand or "").split(",") if e.strip()}


# LaunchDarkly sorts projects by name or createdOn; creationDate is the field's name in flagward.
_SORTS = {
    "name": "name",
    "-name": "-name",
    "createdOn": "creationDate",
    "-createdOn": "-creationDate",
    "creationDate": "creationDate",
    "-creationDate": "-creationDate",
}
EXPANDABLE_ENVIRONMENTS = 20220603  # the API version from which a project's environments are expandable


def _with_environments(expand: str | None, version: int) -> bool:
    return "environments" in _expand(expand) or version < EXPANDABLE_ENVIRONMENTS


def parse_project_filter(raw: str | None) -> tuple[str | None, tuple[str, ...]]:
    """``filter=query:abc,tags:a+b`` (LaunchDarkly's field:value list)."""
    filters = field_filters(raw, ("query", "tags"))
    return filters.get("query"), plus_list(filters.get("tags", ""))


@router.get("/api/v2/projects", summary="List projects", **returns(Projects))
def list_projects(
    actor: ActorDep,
    deps: DepsDep,
    page: PageDep,
    filter: str | None = None,
    sort: str | None = None,
    expand: str | None = None,
    *,
    version: ApiVersionDep,
) -> dict[str, Any]:
    query, tags = parse_project_filter(filter)
    if sort is not None and sort not in _SORTS:
        raise InvalidRequest(f"sort must be one of {', '.join(_SORTS)}")
    q = ProjectQuery(query=query, tags=tags, sort=_SORTS[sort or "name"], page=page)
    items, total = service.list_projects(deps, actor=actor, query=q)
    with_envs = _with_environments(expand, version)
    return collection(
        "/api/v2/projects",
        [presenters.project(p, _shown(actor, envs) if with_envs else None) for p, envs in items],
        total,
        page,
        {"filter": filter, "sort": sort, "expand": expand},
    )


@router.post("/api/v2/projects", status_code=201, summary="Create project", **returns(ProjectRep))
def create_project(actor: ActorDep, deps: DepsDep, body: ProjectPost) -> dict[str, Any]:
    project, envs = service.create_project(deps, actor=actor, new=body.to_domain())
    return presenters.project_rep(project, _shown(actor, envs))


@router.get("/api/v2/projects/{projectKey}", summary="Get project", **returns(Project))
def get_project(
    actor: ActorDep, deps: DepsDep, projectKey: str, version: ApiVersionDep, expand: str | None = None
) -> dict[str, Any]:
    project, envs = service.get_project(deps, actor=actor, key=projectKey)
    return presenters.project(project, _shown(actor, envs) if _with_environments(expand, version) else None)


@router.patch("/api/v2/projects/{projectKey}", summary="Update project (JSON patch)", **returns(ProjectRep))
def patch_project(
    request: Request, actor: ActorDep, deps: DepsDep, projectKey: str, payload: Annotated[Any, Body()]
) -> dict[str, Any]:
    patch = json_patch_only(request, payload)
    project, envs = service.patch_project(
        deps, actor=actor, key=projectKey, patch=patch.operations, comment=patch.comment
    )
    return presenters.project_rep(project, _shown(actor, envs))


@router.delete("/api/v2/projects/{projectKey}", status_code=204, summary="Delete project")
def delete_project(actor: ActorDep, deps: DepsDep, projectKey: str) -> Response:
    service.delete_project(deps, actor=actor, key=projectKey)
    return Response(status_code=204)


@env_router.get("/api/v2/projects/{projectKey}/environments", summary="List environments", **returns(Environments))
def list_environments(actor: ActorDep, deps: DepsDep, projectKey: str, page: PageDep) -> dict[str, Any]:
    envs, total = env_service.list_environments(deps, actor=actor, project_key=projectKey, page=page)
    return collection(
        f"/api/v2/projects/{projectKey}/environments",
        [presenters.environment(with_keys_shown_to(actor, e)) for e in envs],
        total,
        page,
    )


@env_router.post(
    "/api/v2/projects/{projectKey}/environments",
    status_code=201,
    summary="Create environment",
    **returns(Environment),
)
def create_environment(actor: ActorDep, deps: DepsDep, projectKey: str, body: EnvironmentPost) -> dict[str, Any]:
    env = env_service.create_environment(deps, actor=actor, project_key=projectKey, new=body.to_domain())
    return presenters.environment(with_keys_shown_to(actor, env))


@env_router.get(
    "/api/v2/projects/{projectKey}/environments/{environmentKey}", summary="Get environment", **returns(Environment)
)
def get_environment(actor: ActorDep, deps: DepsDep, projectKey: str, environmentKey: str) -> dict[str, Any]:
    env = env_service.get_environment(deps, actor=actor, project_key=projectKey, key=environmentKey)
    return presenters.environment(with_keys_shown_to(actor, env))


@env_router.patch(
    "/api/v2/projects/{projectKey}/environments/{environmentKey}",
    summary="Update environment (JSON patch)",
    **returns(Environment),
)
def patch_environment(
    request: Request,
    actor: ActorDep,
    deps: DepsDep,
    projectKey: str,
    environmentKey: str,
    payload: Annotated[Any, Body()],
) -> dict[str, Any]:
    patch = json_patch_only(request, payload)
    env = env_service.patch_environment(
        deps,
        actor=actor,
        project_key=projectKey,
        key=environmentKey,
        patch=patch.operations,
        comment=patch.comment,
    )
    return presenters.environment(with_keys_shown_to(actor, env))


@env_router.delete(
    "/api/v2/projects/{projectKey}/environments/{environmentKey}",
    status_code=204,
    summary="Delete environment",
)
def delete_environment(actor: ActorDep, deps: DepsDep, projectKey: str, environmentKey: str) -> Response:
    env_service.delete_environment(deps, actor=actor, project_key=projectKey, key=environmentKey)
    return Response(status_code=204)


@env_router.post(
    "/api/v2/projects/{projectKey}/environments/{environmentKey}/apiKey",
    summary="Reset environment SDK key",
    **returns(Environment),
)
def reset_sdk_key(
    actor: ActorDep,
    deps: DepsDep,
    projectKey: str,
    environmentKey: str,
    expiry: Annotated[int | None, Query()] = None,
) -> dict[str, Any]:
    env = env_service.reset_key(
        deps, actor=actor, project_key=projectKey, key=environmentKey, mobile=False, expiry=expiry
    )
    return presenters.environment(with_keys_shown_to(actor, env))


@env_router.post(
    "/api/v2/projects/{projectKey}/environments/{environmentKey}/mobileKey",
    summary="Reset environment mobile SDK key",
    **returns(Environment),
)
def reset_mobile_key(actor: ActorDep, deps: DepsDep, projectKey: str, environmentKey: str) -> dict[str, Any]:
    env = env_service.reset_key(deps, actor=actor, project_key=projectKey, key=environmentKey, mobile=True)
    return presenters.environment(with_keys_shown_to(actor, env))
