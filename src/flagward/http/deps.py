"""Dependencies for handlers: the services, the authenticated actor, pagination parameters."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlsplit

from fastapi import Depends, Query, Request

from flagward import logs
from flagward.domain.accounts import Actor
from flagward.domain.errors import Forbidden, InvalidRequest, RateLimited, Unauthorized
from flagward.domain.rate_limits import ApiLimits, SignInLimits
from flagward.http.rate_limit_headers import STATE_KEY
from flagward.services import auth, throttling
from flagward.services.ports import Deps, Page

SESSION_COOKIE = "flagward_session"
_SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
LATEST_API_VERSION = 20240415
API_VERSIONS = {"20240415", "20220603", "20210729", "20191212", "20160426", "beta"}


def get_deps(request: Request) -> Deps:
    deps: Deps = request.app.state.deps
    return deps


async def deps_dependency(request: Request) -> Deps:
    """``get_deps`` for ``Depends``. Async because it does no I/O: FastAPI runs a plain ``def``
    dependency in the thread pool, a hop through the event loop and a worker thread that every REST
    request would pay once more (the same for the other dependencies here that only read the request)."""
    return get_deps(request)


async def get_sign_in_limits(request: Request) -> SignInLimits:
    limits: SignInLimits = request.app.state.sign_in_limits
    return limits


def client_address(request: Request) -> str:
    """The client's address: the socket's peer, or what a trusted proxy forwarded (uvicorn rewrites
    the peer from X-Forwarded-For only for ``--forwarded-allow-ips``). Never read that header here."""
    return request.client.host if request.client else "unknown"


def expected_origin(request: Request) -> str:
    configured: str = request.app.state.settings.public_origin
    if configured:
        return configured.rstrip("/")
    return f"{request.url.scheme}://{request.headers.get('host', request.url.netloc)}"


def check_origin(request: Request) -> None:
    """Session-authenticated writes must come from our own origin (as LaunchDarkly requires): a
    cross-site page cannot forge them even if SameSite were bypassed."""
    origin = request.headers.get("origin")
    if not origin:
        raise Forbidden("A request authenticated by a session must carry an Origin header")
    parts = urlsplit(origin)
    if f"{parts.scheme}://{parts.netloc}" != expected_origin(request):
        raise Forbidden(f"Origin '{origin}' does not match this server")


def _authenticate(request: Request, deps: Deps) -> Actor:
    header = request.headers.get("authorization")
    if header:
        return auth.authenticate_token(deps, header)
    session = request.cookies.get(SESSION_COOKIE)
    if session:
        actor = auth.authenticate_session(deps, session)
        if request.method not in _SAFE_METHODS:
            check_origin(request)
        return actor
    raise Unauthorized(auth.INVALID_TOKEN)


def get_actor(request: Request, deps: Annotated[Deps, Depends(deps_dependency)]) -> Actor:
    """The authenticated caller. Every REST route depends on it, so the LD-API-Version header is
    checked here too: an unknown version is refused rather than silently served as another."""
    actor = _authenticate(request, deps)
    logs.note_actor(actor.member_id, actor.token_id)
    _spend_api_budget(request, deps, actor)
    value = request.headers.get("ld-api-version")
    if value is not None and value not in API_VERSIONS:
        allowed = ", ".join(sorted(API_VERSIONS))
        raise InvalidRequest(f"LD-API-Version: '{value}' is not a supported API version; use one of {allowed}")
    return actor


def _spend_api_budget(request: Request, deps: Deps, actor: Actor) -> None:
    """The REST API's rate limit, per token (or per member for sessions) and per route pattern."""
    limits: ApiLimits = request.app.state.api_limits
    if not limits.enabled:
        return
    caller = f"token:{actor.token_id}" if actor.token_id else f"member:{actor.member_id}"
    route = getattr(request.scope.get("route"), "path", request.url.path)
    allowance = throttling.spend_api_budget(deps, limits, caller=caller, route=f"{request.method} {route}")
    if allowance is None:
        return
    setattr(request.state, STATE_KEY, allowance)
    if not allowance.allowed:
        raise RateLimited(retry_after_seconds=allowance.retry_after_seconds)


def api_version(request: Request, actor: Annotated[Actor, Depends(get_actor)]) -> int:
    """The API version in force: the LD-API-Version header, else the token's default version, else the
    latest. ``beta`` asks for the latest version plus beta resources."""
    value = request.headers.get("ld-api-version")
    if value is not None and value != "beta":
        return int(value)
    return actor.default_api_version if value is None and actor.default_api_version else LATEST_API_VERSION


async def require_beta(request: Request) -> None:
    """LaunchDarkly answers 403 to a beta resource called without ``LD-API-Version: beta``."""
    if request.headers.get("ld-api-version") != "beta":
        raise Forbidden("This resource is in beta: send the header 'LD-API-Version: beta'")


MAX_OFFSET = 2**31 - 1  # beyond what either store can bind as an integer long before it overflows


async def page_params(
    limit: Annotated[int, Query(ge=1, le=1000)] = 20, offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0
) -> Page:
    return Page(limit=limit, offset=offset)


async def token_page_params(
    limit: Annotated[int, Query(ge=1, le=1000)] = 25, offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0
) -> Page:
    """LaunchDarkly pages access tokens 25 at a time, other collections 20."""
    return Page(limit=limit, offset=offset)


DepsDep = Annotated[Deps, Depends(deps_dependency)]
ActorDep = Annotated[Actor, Depends(get_actor)]
ApiVersionDep = Annotated[int, Depends(api_version)]
PageDep = Annotated[Page, Depends(page_params)]
TokenPageDep = Annotated[Page, Depends(token_page_params)]
