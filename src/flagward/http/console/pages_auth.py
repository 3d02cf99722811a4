"""Sign in, sign out, and the first-run page shown until some member has a password."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request, Response
from fastapi.responses import RedirectResponse

from flagward.domain.errors import DomainError, RateLimited
from flagward.http.console.security import (
    CSRF_FIELD,
    PRE_SESSION_COOKIE,
    SignInRequired,
    check_form,
    pre_session_token,
    safe_next,
    viewer,
)
from flagward.http.console.templating import render
from flagward.http.deps import SESSION_COOKIE, client_address, get_deps
from flagward.http.routes.system import set_session_cookie
from flagward.services import auth

router = APIRouter(include_in_schema=False)


@router.get("/")
def home() -> Response:
    return RedirectResponse("/approvals", status_code=303)


def _sign_in_page(request: Request, *, next_path: str, error: str | None = None, status: int = 200) -> Response:
    deps = get_deps(request)
    token = pre_session_token(request)
    if not auth.anyone_can_sign_in(deps):
        response = render(request, "first_run.html", owner_email=auth.owner_email(deps) or "you@example.com")
    else:
        response = render(
            request, "sign_in.html", status_code=status, csrf_token=token, next_path=next_path, error=error
        )
    response.set_cookie(PRE_SESSION_COOKIE, token, httponly=True, samesite="strict", path="/sign-in")
    return response


@router.get("/sign-in")
def sign_in_form(request: Request, next: str | None = None) -> Response:
    target = safe_next(next)
    try:
        viewer(request)
    except SignInRequired:
        return _sign_in_page(request, next_path=target)
    return RedirectResponse(target, status_code=303)


@router.post("/sign-in")
def sign_in(
    request: Request,
    email: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    csrf_token: Annotated[str, Form(alias=CSRF_FIELD)] = "",
    next: Annotated[str, Form()] = "",
) -> Response:
    target = safe_next(next)
    deps = get_deps(request)
    try:
        check_form(request, csrf_token, request.cookies.get(PRE_SESSION_COOKIE) or "")
        limits = request.app.state.sign_in_limits
        signed_in = auth.login(deps, limits, email=email, password=password, address=client_address(request))
    except RateLimited as exc:
        return _sign_in_page(request, next_path=target, error=exc.message, status=429)
    except DomainError as exc:
        status = 401 if exc.code == "unauthorized" else 403
        return _sign_in_page(request, next_path=target, error=exc.message, status=status)
    response = RedirectResponse(target, status_code=303)
    set_session_cookie(request, response, signed_in.session_secret)
    response.delete_cookie(PRE_SESSION_COOKIE, path="/sign-in")
    return response


@router.post("/sign-out")
def sign_out(request: Request, csrf_token: Annotated[str, Form(alias=CSRF_FIELD)] = "") -> Response:
    try:
        current = viewer(request)
    except SignInRequired:
        return RedirectResponse("/sign-in", status_code=303)
    try:
        check_form(request, csrf_token, current.csrf_token)
    except DomainError as exc:
        return render(request, "error.html", status_code=403, viewer=current, error=exc.message)
    secret = request.cookies.get(SESSION_COOKIE)
    if secret:
        auth.logout(get_deps(request), secret)
    response = RedirectResponse("/sign-in?signed_out=1", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response
