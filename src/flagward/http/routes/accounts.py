from __future__ import annotations

from typing import Annotated, Any

from fastapi import Body, File, Request, Response, UploadFile
from fastapi.responses import JSONResponse

from flagward.domain.errors import InvalidRequest
from flagward.http import presenters
from flagward.http.deps import ActorDep, DepsDep, PageDep, TokenPageDep
from flagward.http.links import collection
from flagward.http.routes._bodies import comment_of, json_patch_only
from flagward.http.routes._filters import field_filters
from flagward.http.routes._responses import returns
from flagward.http.routes._router import api_router
from flagward.http.schemas.accounts import AccessTokenPost, NewMemberForm, TeamPostInput
from flagward.http.schemas.read_accounts import Member, Members, Team, TeamImportsRep, Teams, Token, Tokens
from flagward.services import members as member_service
from flagward.services import teams as team_service
from flagward.services import tokens as token_service
from flagward.services.ports import MemberQuery

members = api_router(tags=["Account members"])
teams = api_router(tags=["Teams"])
tokens = api_router(tags=["Access tokens"])


def parse_member_filter(raw: str | None) -> dict[str, Any]:
    """``filter=role:admin|writer,query:ann,team:ops,noteam:true``."""
    filters = field_filters(raw, ("role", "query", "team", "noteam"))
    result: dict[str, Any] = {}
    if "role" in filters:
        result["roles"] = tuple(r for r in filters["role"].split("|") if r)
    if "query" in filters:
        result["query"] = filters["query"]
    if "team" in filters:
        result["team_key"] = filters["team"]
    if "noteam" in filters:
        result["no_team"] = filters["noteam"].lower() == "true"
    return result


@members.get("/api/v2/members", summary="List account members", **returns(Members))
def list_members(actor: ActorDep, deps: DepsDep, page: PageDep, filter: str | None = None) -> dict[str, Any]:
    query = MemberQuery(page=page, **parse_member_filter(filter))
    items, total = member_service.list_members(deps, actor=actor, query=query)
    return collection("/api/v2/members", [presenters.member(m) for m in items], total, page, {"filter": filter})


@members.post("/api/v2/members", status_code=201, summary="Invite new members", **returns(Members))
def create_members(actor: ActorDep, deps: DepsDep, body: list[NewMemberForm]) -> dict[str, Any]:
    created = member_service.create_members(deps, actor=actor, new=[m.to_domain() for m in body])
    return collection("/api/v2/members", [presenters.member(m) for m in created], len(created))


@members.get("/api/v2/members/{id}", summary="Get account member", **returns(Member))
def get_member(actor: ActorDep, deps: DepsDep, id: str) -> dict[str, Any]:
    member_id = actor.member_id if id == "me" and actor.member_id else id
    return presenters.member(member_service.get_member(deps, actor=actor, member_id=member_id))


@members.patch("/api/v2/members/{id}", summary="Modify an account member (JSON patch)", **returns(Member))
def patch_member(
    request: Request, actor: ActorDep, deps: DepsDep, id: str, payload: Annotated[Any, Body()]
) -> dict[str, Any]:
    patch = json_patch_only(request, payload)
    return presenters.member(member_service.patch_member(deps, actor=actor, member_id=id, patch=patch.operations))


@members.delete("/api/v2/members/{id}", status_code=204, summary="Delete account member")
def delete_member(actor: ActorDep, deps: DepsDep, id: str) -> Response:
    member_service.delete_member(deps, actor=actor, member_id=id)
    return Response(status_code=204)


def _team_expand(expand: str | None) -> frozenset[str]:
    return frozenset(e.strip() for e in (expand or "").split(","))


@teams.get("/api/v2/teams", summary="List teams", **returns(Teams))
def list_teams(
    actor: ActorDep, deps: DepsDep, page: PageDep, filter: str | None = None, expand: str | None = None
) -> dict[str, Any]:
    query = field_filters(filter, ("query",)).get("query")
    items, total = team_service.list_teams(deps, actor=actor, query=query, page=page)
    return collection(
        "/api/v2/teams",
        [presenters.team(t, expand=_team_expand(expand)) for t in items],
        total,
        page,
        {"filter": filter, "expand": expand},
    )


@teams.post("/api/v2/teams", status_code=201, summary="Create team", **returns(Team))
def create_team(actor: ActorDep, deps: DepsDep, body: TeamPostInput, expand: str | None = None) -> dict[str, Any]:
    team = team_service.create_team(deps, actor=actor, new=body.to_domain())
    return presenters.team(team, expand=_team_expand(expand))


@teams.get("/api/v2/teams/{teamKey}", summary="Get team", **returns(Team))
def get_team(actor: ActorDep, deps: DepsDep, teamKey: str, expand: str | None = None) -> dict[str, Any]:
    return presenters.team(team_service.get_team(deps, actor=actor, key=teamKey), expand=_team_expand(expand))


@teams.patch("/api/v2/teams/{teamKey}", summary="Update team (semantic patch)", **returns(Team))
def patch_team(
    actor: ActorDep, deps: DepsDep, teamKey: str, payload: Annotated[Any, Body()], expand: str | None = None
) -> dict[str, Any]:
    if not isinstance(payload, dict):
        raise InvalidRequest("the body must be {comment, instructions}")
    team = team_service.patch_team(
        deps,
        actor=actor,
        key=teamKey,
        instructions=payload.get("instructions"),
        comment=comment_of(payload),
    )
    return presenters.team(team, expand=_team_expand(expand))


@teams.delete("/api/v2/teams/{teamKey}", status_code=204, summary="Delete team")
def delete_team(actor: ActorDep, deps: DepsDep, teamKey: str) -> Response:
    team_service.delete_team(deps, actor=actor, key=teamKey)
    return Response(status_code=204)


@teams.post(
    "/api/v2/teams/{teamKey}/members",
    status_code=201,
    summary="Add multiple members to team",
    responses={207: {"model": TeamImportsRep, "description": "Some of the members could not be added"}},
    **returns(TeamImportsRep),
)
def add_team_members(actor: ActorDep, deps: DepsDep, teamKey: str, file: Annotated[UploadFile, File()]) -> JSONResponse:
    text = file.file.read().decode("utf-8", errors="replace")
    emails = [cell.strip() for line in text.splitlines() for cell in line.split(",") if cell.strip()]
    emails = [e for e in emails if "@" in e]  # skips a header row such as "email"
    results = team_service.add_team_members_by_email(deps, actor=actor, key=teamKey, emails=emails)
    items = [{"memberId": r.member_id, "status": r.status, "value": r.email, "message": r.message} for r in results]
    body = {"items": [{k: v for k, v in i.items() if v is not None} for i in items]}
    return JSONResponse(body, status_code=207 if any(r.status == "error" for r in results) else 201)


@tokens.get("/api/v2/tokens", summary="List access tokens", **returns(Tokens))
def list_tokens(actor: ActorDep, deps: DepsDep, page: TokenPageDep, showAll: bool = False) -> dict[str, Any]:
    items, total = token_service.list_tokens(deps, actor=actor, show_all=showAll, page=page)
    return collection(
        "/api/v2/tokens", [presenters.token(t) for t in items], total, page, {"showAll": str(showAll).lower()}
    )


@tokens.post("/api/v2/tokens", status_code=201, summary="Create access token", **returns(Token))
def create_token(actor: ActorDep, deps: DepsDep, body: AccessTokenPost) -> dict[str, Any]:
    token, secret = token_service.create_token(deps, actor=actor, new=body.to_domain())
    return presenters.token(token, secret)


@tokens.get("/api/v2/tokens/{id}", summary="Get access token", **returns(Token))
def get_token(actor: ActorDep, deps: DepsDep, id: str) -> dict[str, Any]:
    return presenters.token(token_service.get_token(deps, actor=actor, token_id=id))


@tokens.patch("/api/v2/tokens/{id}", summary="Patch access token (JSON patch)", **returns(Token))
def patch_token(
    request: Request, actor: ActorDep, deps: DepsDep, id: str, payload: Annotated[Any, Body()]
) -> dict[str, Any]:
    patch = json_patch_only(request, payload)
    return presenters.token(token_service.patch_token(deps, actor=actor, token_id=id, patch=patch.operations))


@tokens.delete("/api/v2/tokens/{id}", status_code=204, summary="Delete access token")
def delete_token(actor: ActorDep, deps: DepsDep, id: str) -> Response:
    token_service.delete_token(deps, actor=actor, token_id=id)
    return Response(status_code=204)


@tokens.post("/api/v2/tokens/{id}/reset", summary="Reset access token", **returns(Token))
def reset_token(actor: ActorDep, deps: DepsDep, id: str, expiry: int | None = None) -> dict[str, Any]:
    token, secret = token_service.reset_token(deps, actor=actor, token_id=id, expiry=expiry)
    return presenters.token(token, secret)
