"""Approval requests: the flag-scoped routes (the founding flag-copy endpoint among them), the top-level
routes, and the project approval settings (beta)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Body, Depends, Query, Response

from flagward.domain.errors import InvalidRequest
from flagward.http.deps import ActorDep, DepsDep, PageDep, require_beta
from flagward.http.links import collection, link
from flagward.http.presenters_approvals import flag_scoped, top_level
from flagward.http.routes._responses import returns
from flagward.http.routes._router import api_router
from flagward.http.schemas.approvals import (
    CreateApprovalRequestRequest,
    CreateCopyFlagConfigApprovalRequestRequest,
    CreateFlagConfigApprovalRequestRequest,
    PostApprovalRequestApplyRequest,
    PostApprovalRequestReviewRequest,
)
from flagward.http.schemas.read_approvals import (
    ApprovalRequestResponse,
    ApprovalRequestSettings,
    ExpandableApprovalRequestResponse,
    ExpandableApprovalRequestsResponse,
    FlagConfigApprovalRequestResponse,
    FlagConfigApprovalRequestsResponse,
)
from flagward.services import approval_queries as queries
from flagward.services import approval_settings
from flagward.services import approvals as service
from flagward.services.approvals import Scope

router = api_router(tags=["Approvals"])
FLAG = "/api/v2/projects/{projectKey}/flags/{featureFlagKey}/environments/{environmentKey}"
TOP = "/api/v2/approval-requests"


async def _scope(projectKey: str, featureFlagKey: str, environmentKey: str) -> Scope:
    return Scope(project_key=projectKey, flag_key=featureFlagKey, environment_key=environmentKey)


ScopeDep = Annotated[Scope, Depends(_scope)]


def _expand(raw: str | None, allowed: set[str]) -> set[str]:
    values = {v.strip() for v in (raw or "").split(",") if v.strip()}
    unknown = values - allowed
    if unknown:
        raise InvalidRequest(f"expand: unknown field(s) {', '.join(sorted(unknown))}; use {', '.join(sorted(allowed))}")
    return values


def _patch_body(payload: Any) -> tuple[Any, str | None]:
    if not isinstance(payload, dict) or "instructions" not in payload:
        raise InvalidRequest("the body must be a semantic patch: {comment, instructions}")
    comment = payload.get("comment")
    return payload["instructions"], comment if isinstance(comment, str) else None


@router.get(
    FLAG + "/approval-requests",
    summary="List approval requests for a flag",
    **returns(FlagConfigApprovalRequestsResponse),
)
def list_for_flag(actor: ActorDep, deps: DepsDep, scope: ScopeDep) -> dict[str, Any]:
    views = queries.list_for_flag(deps, actor=actor, scope=scope)
    path = FLAG.format(
        projectKey=scope.project_key, featureFlagKey=scope.flag_key, environmentKey=scope.environment_key
    )
    return {"items": [flag_scoped(v) for v in views], "_links": {"self": link(f"{path}/approval-requests")}}


@router.post(
    FLAG + "/approval-requests",
    status_code=201,
    summary="Create approval request for a flag",
    **returns(FlagConfigApprovalRequestResponse),
)
def create_for_flag(
    actor: ActorDep, deps: DepsDep, scope: ScopeDep, body: CreateFlagConfigApprovalRequestRequest
) -> dict[str, Any]:
    seen = service.Seen()
    request = service.create_flag_request(
        deps,
        actor=actor,
        project_key=scope.project_key,
        flag_key=scope.flag_key,
        env_key=scope.environment_key,
        new=body.to_domain(),
        seen=seen,
    )
    return flag_scoped(queries.view_of(deps, request, seen))


@router.post(
    FLAG + "/approval-requests-flag-copy",
    status_code=201,
    summary="Create approval request to copy flag configurations across environments",
    **returns(FlagConfigApprovalRequestResponse),
)
def create_copy(
    actor: ActorDep, deps: DepsDep, scope: ScopeDep, body: CreateCopyFlagConfigApprovalRequestRequest
) -> dict[str, Any]:
    """``environmentKey`` is the target; ``source.key`` the environment to copy from."""
    seen = service.Seen()
    request = service.create_copy_request(
        deps,
        actor=actor,
        project_key=scope.project_key,
        flag_key=scope.flag_key,
        env_key=scope.environment_key,
        new=body.to_domain(),
        seen=seen,
    )
    return flag_scoped(queries.view_of(deps, request, seen))


@router.get(
    FLAG + "/approval-requests/{id}",
    summary="Get approval request for a flag",
    **returns(FlagConfigApprovalRequestResponse),
)
def get_for_flag(actor: ActorDep, deps: DepsDep, scope: ScopeDep, id: str) -> dict[str, Any]:
    return flag_scoped(queries.get_request(deps, actor=actor, request_id=id, scope=scope))


@router.delete(FLAG + "/approval-requests/{id}", status_code=204, summary="Delete approval request for a flag")
def delete_for_flag(actor: ActorDep, deps: DepsDep, scope: ScopeDep, id: str) -> Response:
    service.delete(deps, actor=actor, request_id=id, scope=scope)
    return Response(status_code=204)


@router.post(
    FLAG + "/approval-requests/{id}/reviews",
    summary="Review approval request for a flag",
    **returns(FlagConfigApprovalRequestResponse),
)
def review_for_flag(
    actor: ActorDep, deps: DepsDep, scope: ScopeDep, id: str, body: PostApprovalRequestReviewRequest
) -> dict[str, Any]:
    seen = service.Seen()
    request = service.review(
        deps, actor=actor, request_id=id, kind=body.kind, comment=body.comment, scope=scope, seen=seen
    )
    return flag_scoped(queries.view_of(deps, request, seen))


@router.post(
    FLAG + "/approval-requests/{id}/apply",
    summary="Apply approval request for a flag",
    **returns(FlagConfigApprovalRequestResponse),
)
def apply_for_flag(
    actor: ActorDep, deps: DepsDep, scope: ScopeDep, id: str, body: PostApprovalRequestApplyRequest
) -> dict[str, Any]:
    seen = service.Seen()
    request = service.apply(deps, actor=actor, request_id=id, comment=body.comment, scope=scope, seen=seen)
    return flag_scoped(queries.view_of(deps, request, seen))


@router.patch(
    FLAG + "/approval-requests/{id}",
    summary="Update approval request for a flag (semantic patch)",
    **returns(FlagConfigApprovalRequestResponse),
)
def patch_for_flag(
    actor: ActorDep, deps: DepsDep, scope: ScopeDep, id: str, payload: Annotated[Any, Body()]
) -> dict[str, Any]:
    instructions, comment = _patch_body(payload)
    request = service.patch(deps, actor=actor, request_id=id, instructions=instructions, comment=comment, scope=scope)
    return flag_scoped(queries.view_of(deps, request))


@router.get(TOP, summary="List approval requests", **returns(ExpandableApprovalRequestsResponse))
def list_requests(
    actor: ActorDep,
    deps: DepsDep,
    page: PageDep,
    filter: str | None = None,
    expand: str | None = None,
) -> dict[str, Any]:
    expanded = _expand(expand, {"flag", "project", "environments"})
    views, total = queries.list_requests(
        deps, actor=actor, filter=queries.build_filter(filter, page), page=page, expand=expanded
    )
    return collection(TOP, [top_level(v) for v in views], total, page, {"filter": filter, "expand": expand})


@router.post(TOP, status_code=201, summary="Create approval request", **returns(ApprovalRequestResponse))
def create_request(actor: ActorDep, deps: DepsDep, body: CreateApprovalRequestRequest) -> dict[str, Any]:
    seen = service.Seen()
    request = service.create_request(deps, actor=actor, resource_id=body.resourceId, new=body.to_domain(), seen=seen)
    return top_level(queries.view_of(deps, request, seen))


@router.get(
    TOP + "/projects/{projectKey}/settings",
    summary="Get approval request settings (beta)",
    dependencies=[Depends(require_beta)],
    **returns(ApprovalRequestSettings),
)
def get_settings(
    actor: ActorDep,
    deps: DepsDep,
    projectKey: str,
    environmentKey: str | None = None,
    resourceKind: str | None = None,
    expand: Annotated[str | None, Query()] = None,
) -> dict[str, Any]:
    return approval_settings.get_settings(
        deps, actor=actor, project_key=projectKey, environment_key=environmentKey, resource_kind=resourceKind
    )


@router.patch(
    TOP + "/projects/{projectKey}/settings",
    summary="Update approval request settings (beta)",
    dependencies=[Depends(require_beta)],
    **returns(ApprovalRequestSettings),
)
def patch_settings(actor: ActorDep, deps: DepsDep, projectKey: str, payload: Annotated[Any, Body()]) -> dict[str, Any]:
    if not isinstance(payload, dict):
        raise InvalidRequest("the body must be an object")
    return approval_settings.patch_settings(deps, actor=actor, project_key=projectKey, body=payload)


@router.get(TOP + "/{id}", summary="Get approval request", **returns(ExpandableApprovalRequestResponse))
def get_request(actor: ActorDep, deps: DepsDep, id: str, expand: str | None = None) -> dict[str, Any]:
    expanded = _expand(expand, {"flag", "project", "environments", "resource"})
    return top_level(queries.get_request(deps, actor=actor, request_id=id, expand=expanded))


@router.delete(TOP + "/{id}", status_code=204, summary="Delete approval request")
def delete_request(actor: ActorDep, deps: DepsDep, id: str) -> Response:
    service.delete(deps, actor=actor, request_id=id)
    return Response(status_code=204)


@router.post(TOP + "/{id}/reviews", summary="Review approval request", **returns(ApprovalRequestResponse))
def review_request(actor: ActorDep, deps: DepsDep, id: str, body: PostApprovalRequestReviewRequest) -> dict[str, Any]:
    seen = service.Seen()
    request = service.review(deps, actor=actor, request_id=id, kind=body.kind, comment=body.comment, seen=seen)
    return top_level(queries.view_of(deps, request, seen))


@router.post(TOP + "/{id}/apply", summary="Apply approval request", **returns(ApprovalRequestResponse))
def apply_request(actor: ActorDep, deps: DepsDep, id: str, body: PostApprovalRequestApplyRequest) -> dict[str, Any]:
    seen = service.Seen()
    request = service.apply(deps, actor=actor, request_id=id, comment=body.comment, seen=seen)
    return top_level(queries.view_of(deps, request, seen))


@router.patch(
    TOP + "/{id}", summary="Update approval request (semantic patch)", **returns(FlagConfigApprovalRequestResponse)
)
def patch_request(actor: ActorDep, deps: DepsDep, id: str, payload: Annotated[Any, Body()]) -> dict[str, Any]:
    instructions, comment = _patch_body(payload)
    request = service.patch(deps, actor=actor, request_id=id, instructions=instructions, comment=comment)
    # LaunchDarkly answers this one with a FlagConfigApprovalRequestResponse, in the top-level form.
    return flag_scoped(queries.view_of(deps, request), top_level=True)
