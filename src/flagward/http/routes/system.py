"""Health, caller identity, sign-in and the audit log."""

from __future__ import annotations

import os
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import Depends, Query, Request, Response
from fastapi.responses import JSONResponse

from flagward.domain.accounts import Actor
from flagward.domain.errors import InvalidRequest
from flagward.domain.json_values import INT64_MAX, INT64_MIN
from flagward.domain.policy import parse_statements
from flagward.domain.rate_limits import SignInLimits
from flagward.http import presenters
from flagward.http.deps import SESSION_COOKIE, ActorDep, DepsDep, client_address, get_sign_in_limits
from flagward.http.links import link
from flagward.http.routes._responses import returns
from flagward.http.routes._router import api_router
from flagward.http.schemas.accounts import LoginBody
from flagward.http.schemas.read_accounts import CallerIdentityRep, Member
from flagward.http.schemas.read_audit import AuditLogEntryListingRepCollection, AuditLogEntryRep
from flagward.http.schemas.webhooks import StatementPost
from flagward.services import audit as audit_service
from flagward.services import auth
from flagward.services.delivery import outbox_stats
from flagward.services.identity import caller_identity
from flagward.services.ports import AuditQuery, Deps, StoreUnavailable

health = api_router(tags=["Health"])
identity = api_router(tags=["Other"])
session = api_router(tags=["Sign-in"])
auditlog = api_router(tags=["Audit log"])


@health.get("/healthz", summary="Liveness")
async def healthz(request: Request) -> dict[str, Any]:
    """Liveness (answered on the event loop itself, so it shows when the loop is blocked), how many
    malformed SDK events this process dropped since it started, and which process answered (``pid``:
    with ``--workers``, each connection is served by one of several)."""
    return {"status": "ok", "droppedSdkEvents": request.app.state.evaluations.dropped, "pid": os.getpid()}


@health.get(
    "/readyz",
    summary="Readiness: the store answers",
    responses={503: {"description": "Not ready: the store does not answer ({status, reason})"}},
)
def readyz(deps: DepsDep) -> Response:
    """Ready when the store answers. ``details.outbox`` tells how delivery of e-mails (and other outgoing
    messages) goes: ``due`` messages waiting now and ``lagMs`` since the oldest became due, ``retrying``
    after a failure, ``dead`` ones (given up; their last error is kept); it never makes the process unready."""
    try:
        with deps.uow(write=False) as uow:
            uow.meta.account_id()
        stats = outbox_stats(deps)
    except StoreUnavailable as exc:
        return JSONResponse({"status": "unavailable", "reason": str(exc)}, status_code=503)
    outbox = {
        "pending": stats.pending,
        "due": stats.due,
        "retrying": stats.retrying,
        "dead": stats.dead,
        "lagMs": stats.oldest_due_ms or 0,
    }
    return JSONResponse({"status": "ok", "details": {"outbox": outbox}})


@identity.get("/api/v2/caller-identity", summary="Identify the caller", **returns(CallerIdentityRep))
def get_caller_identity(actor: ActorDep, deps: DepsDep) -> dict[str, Any]:
    result = caller_identity(deps, actor=actor)
    doc: dict[str, Any] = {
        "accountId": result.account_id,
        "authKind": "session" if actor.kind.value == "session" else "token",
        "tokenKind": "service" if actor.is_service_token else ("session" if not actor.token_id else "personal"),
        "serviceToken": actor.is_service_token,
        "scopes": [],
    }
    optional = {"memberId": actor.member_id, "tokenId": actor.token_id, "tokenName": actor.token_name}
    doc.update({k: v for k, v in optional.items() if v is not None})
    return doc


@session.post("/auth/login", summary="Sign in with email and password", **returns(Member))
def login(
    request: Request,
    deps: DepsDep,
    body: LoginBody,
    limits: Annotated[SignInLimits, Depends(get_sign_in_limits)],
) -> Response:
    address = client_address(request)
    signed_in = auth.login(deps, limits, email=body.email, password=body.password, address=address)
    response = JSONResponse(presenters.member(signed_in.member))
    set_session_cookie(request, response, signed_in.session_secret)
    return response


def set_session_cookie(request: Request, response: Response, secret: str) -> None:
    """The session cookie, as ``/auth/login`` and the console's sign-in set it."""
    response.set_cookie(
        SESSION_COOKIE,
        secret,
        max_age=auth.SESSION_TTL_MS // 1000,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        path="/",
    )


@session.post("/auth/logout", status_code=204, summary="Sign out")
def logout(request: Request, deps: DepsDep) -> Response:
    secret = request.cookies.get(SESSION_COOKIE)
    if secret:
        auth.logout(deps, secret)
    response = Response(status_code=204)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@auditlog.get("/api/v2/auditlog", summary="List audit log entries", **returns(AuditLogEntryListingRepCollection))
def list_audit(
    actor: ActorDep,
    deps: DepsDep,
    before: Annotated[int | None, Query(ge=INT64_MIN, le=INT64_MAX)] = None,
    after: Annotated[int | None, Query(ge=INT64_MIN, le=INT64_MAX)] = None,
    q: str | None = None,
    limit: Annotated[int, Query()] = 10,
    spec: str | None = None,
) -> dict[str, Any]:
    return _listing(actor, deps, AuditQuery(before=before, after=after, q=q, spec=spec, limit=limit))


@auditlog.post(
    "/api/v2/auditlog",
    summary="Search audit log entries (by policy statements)",
    **returns(AuditLogEntryListingRepCollection),
)
def search_audit(
    actor: ActorDep,
    deps: DepsDep,
    body: list[StatementPost] | None = None,
    before: Annotated[int | None, Query(ge=INT64_MIN, le=INT64_MAX)] = None,
    after: Annotated[int | None, Query(ge=INT64_MIN, le=INT64_MAX)] = None,
    q: str | None = None,
    limit: Annotated[int, Query()] = 10,
) -> dict[str, Any]:
    """The entries one of whose accesses the statements allow (the webhooks' and custom roles' matcher);
    no statements: every entry. The ``next`` link repeats the query: POST the same body to it."""
    statements = parse_statements([s.model_dump(exclude_none=True) for s in body or []])
    query = AuditQuery(before=before, after=after, q=q, limit=limit, statements=statements)
    return _listing(actor, deps, query)


def _listing(actor: Actor, deps: Deps, query: AuditQuery) -> dict[str, Any]:
    if not 1 <= query.limit <= 20:
        raise InvalidRequest("limit must be between 1 and 20")
    entries = audit_service.list_audit_entries(deps, actor=actor, query=query)
    account_id = caller_identity(deps, actor=actor).account_id
    result: dict[str, Any] = {
        "items": [presenters.audit_entry(e, account_id, detail=False) for e in entries],
        "_links": {"self": link("/api/v2/auditlog")},
    }
    if len(entries) == query.limit:
        # The same query, one page further: dates strictly increase along the log, so nothing repeats.
        params = {"before": entries[-1].date, "after": query.after, "q": query.q, "limit": query.limit}
        params["spec"] = query.spec
        next_query = urlencode({k: v for k, v in params.items() if v is not None})
        result["_links"]["next"] = link(f"/api/v2/auditlog?{next_query}")
    return result


@auditlog.get("/api/v2/auditlog/{id}", summary="Get audit log entry", **returns(AuditLogEntryRep))
def get_audit(actor: ActorDep, deps: DepsDep, id: str) -> dict[str, Any]:
    entry = audit_service.get_audit_entry(deps, actor=actor, entry_id=id)
    return presenters.audit_entry(entry, caller_identity(deps, actor=actor).account_id, detail=True)
