"""Dependencies for handlers: the services, the authenticated actor, pagination parameters."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlsplit

from fastapi import Depends, Query, Request

from flagward.domain.accounts import Actor
from flagward.domain.errors import Forbidden, InvalidRequest, Unauthorized
from flagward.services import auth
from flagward.services.auth import LoginThrottle
from flagward.services.ports import Deps, Page

SESSION_COOKIE = "flagward_session"
_SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
API_VERSIONS = {"20240415", "20220603", "20210729", "20191212", "20160426", "beta"}


def get_deps(request: Request) -> Deps:
    deps: Deps = request.app.state.deps
    return deps


def get_throttle(request: Request) -> LoginThrottle:
    throttle: LoginThrottle = request.app.state.login_throttle
    return throttle


def expected_origin(request: Request) -> str:
    configured: str = request.app.state.settings.public_origin
    if configured:
        return configured.rstrip("/")
    return f"{request.url.scheme}://{request.headers.get('host', request.url.netloc)}"


def _check_origin(request: Request) -> None:
    """Session-authenticated writes must come from our own origin (as LaunchDarkly requires): a
    cross-site page cannot forge them even if SameSite were bypassed."""
    origin = request.headers.get("origin")
    if not origin:
        raise Forbidden("A request authenticated by a session must carry an Origin header")
    parts = urlsplit(origin)
    if f"{parts.scheme}://{parts.netloc}" != expected_origin(request):
        raise Forbidden(f"Origin '{origin}' does not match this server")


def get_actor(request: Request, deps: Annotated[Deps, Depends(get_deps)]) -> Actor:
    header = request.headers.get("authorization")
    if header:
        return auth.authenticate_token(deps, header)
    session = request.cookies.get(SESSION_COOKIE)
    if session:
        actor = auth.authenticate_session(deps, session)
        if request.method not in _SAFE_METHODS:
            _check_origin(request)
        return actor
    raise Unauthorized(auth.INVALID_TOKEN)


def api_version(request: Request) -> str:
    value = request.headers.get("ld-api-version", "20240415")
    if value not in API_VERSIONS:
        raise InvalidRequest(f"LD-API-Version '{value}' is not a supported API version")
    return value


def require_beta(request: Request) -> None:
    """LaunchDarkly answers 403 to a beta resource called without ``LD-API-Version: beta``."""
    if request.headers.get("ld-api-version") != "beta":
        raise Forbidden("This resource is in beta: send the header 'LD-API-Version: beta'")


def page_params(
    limit: Annotated[int, Query(ge=1, le=1000)] = 20, offset: Annotated[int, Query(ge=0)] = 0
) -> Page:
    return Page(limit=limit, offset=offset)


DepsDep = Annotated[Deps, Depends(get_deps)]
ActorDep = Annotated[Actor, Depends(get_actor)]
PageDep = Annotated[Page, Depends(page_params)]
