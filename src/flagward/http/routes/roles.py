"""Custom roles (LaunchDarkly's ``/api/v2/roles``) and where roles are given: a team's roles, a member's
teams, and the members' bulk semantic patch."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Body, Request, Response

from flagward.domain.errors import InvalidRequest
from flagward.domain.roles import CustomRole, RoleHolders, role_document
from flagward.http import presenters
from flagward.http.deps import ActorDep, DepsDep, PageDep
from flagward.http.links import collection, links
from flagward.http.routes._bodies import comment_of, parse_patch
from flagward.http.routes._responses import returns
from flagward.http.routes._router import api_router
from flagward.http.schemas.read_accounts import Member, TeamCustomRoles
from flagward.http.schemas.roles import (
    BulkEditMembersRep,
    CustomRolePost,
    CustomRoles,
    MemberTeamsPostInput,
)
from flagward.http.schemas.roles import CustomRole as CustomRoleRep
from flagward.services import assignments
from flagward.services import roles as service

router = api_router(tags=["Custom roles"])
PATH = "/api/v2/roles"


def _rep(role: CustomRole, holders: RoleHolders | None = None) -> dict[str, Any]:
    doc = role_document(role, holders=holders)
    doc["_links"] = links(f"{PATH}/{role.key}", PATH)
    doc["_access"] = {"allowed": [], "denied": []}
    return doc


@router.get(PATH, summary="List custom roles", **returns(CustomRoles))
def list_roles(actor: ActorDep, deps: DepsDep, page: PageDep) -> dict[str, Any]:
    items, total = service.list_roles(deps, actor=actor, page=page)
    return collection(PATH, [_rep(r, h) for r, h in items], total, page)


@router.post(PATH, status_code=201, summary="Create custom role", **returns(CustomRoleRep))
def create_role(actor: ActorDep, deps: DepsDep, body: CustomRolePost) -> dict[str, Any]:
    return _rep(service.create_role(deps, actor=actor, new=body.to_domain()), RoleHolders())


@router.get(PATH + "/{customRoleKey}", summary="Get custom role (by key or ID)", **returns(CustomRoleRep))
def get_role(actor: ActorDep, deps: DepsDep, customRoleKey: str) -> dict[str, Any]:
    role, holders = service.get_role(deps, actor=actor, key=customRoleKey)
    return _rep(role, holders)


@router.patch(PATH + "/{customRoleKey}", summary="Update custom role (JSON or merge patch)", **returns(CustomRoleRep))
def patch_role(
    request: Request, actor: ActorDep, deps: DepsDep, customRoleKey: str, payload: Annotated[Any, Body()]
) -> dict[str, Any]:
    patch = parse_patch(request, payload, merge=True)
    role = service.patch_role(
        deps, actor=actor, key=customRoleKey, patch=patch.operations, comment=patch.comment, kind=patch.kind
    )
    return _rep(role)


@router.delete(PATH + "/{customRoleKey}", status_code=204, summary="Delete custom role")
def delete_role(actor: ActorDep, deps: DepsDep, customRoleKey: str) -> Response:
    service.delete_role(deps, actor=actor, key=customRoleKey)
    return Response(status_code=204)


members = api_router(tags=["Account members"])
teams = api_router(tags=["Teams"])


@members.patch("/api/v2/members", summary="Modify account members (semantic patch)", **returns(BulkEditMembersRep))
def patch_members(actor: ActorDep, deps: DepsDep, payload: Annotated[Any, Body()]) -> dict[str, Any]:
    """LaunchDarkly's instructions; all or nothing: a member that cannot be changed fails the request (400)."""
    if not isinstance(payload, dict):
        raise InvalidRequest("the body must be {comment, instructions}")
    changed = assignments.patch_members(
        deps, actor=actor, instructions=payload.get("instructions"), comment=comment_of(payload)
    )
    return {"members": changed, "errors": []}


@members.post("/api/v2/members/{id}/teams", status_code=201, summary="Add a member to teams", **returns(Member))
def add_member_to_teams(actor: ActorDep, deps: DepsDep, id: str, body: MemberTeamsPostInput) -> dict[str, Any]:
    return presenters.member(assignments.add_member_to_teams(deps, actor=actor, member_id=id, team_keys=body.teamKeys))


@teams.get("/api/v2/teams/{teamKey}/roles", summary="Get team custom roles", **returns(TeamCustomRoles))
def get_team_roles(actor: ActorDep, deps: DepsDep, teamKey: str, page: PageDep) -> dict[str, Any]:
    roles, total = assignments.team_roles(deps, actor=actor, key=teamKey, page=page)
    items = [{"key": r.key, "name": r.name} for r in roles]
    return collection(f"/api/v2/teams/{teamKey}/roles", items, total, page)
