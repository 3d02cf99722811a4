"""Who is using the console, and the guards on its forms.

A page is signed in with the REST API's session cookie (``/auth/login`` sets the same one). Every form
carries a CSRF token on top of the cookie's ``SameSite=Strict`` and the Origin check the REST API
applies to session writes:

- signed in, the token is derived from the session secret (``sha256("csrf:" + secret)``): a page of
  another site can read neither the HttpOnly cookie nor the token, and nothing is stored server-side;
- on the sign-in form (no session yet) it is a double-submit token: a random value in a
  ``flagward_csrf`` cookie that the form must echo.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from urllib.parse import quote

from fastapi import Request

from flagward.domain.accounts import Actor
from flagward.domain.errors import DomainError, Forbidden, Unauthorized
from flagward.http.deps import SESSION_COOKIE, check_origin, get_deps
from flagward.services import auth

PRE_SESSION_COOKIE = "flagward_csrf"
CSRF_FIELD = "csrf_token"


class SignInRequired(Exception):
    """The page needs a signed-in member; the console answers with a redirect to the sign-in page."""

    def __init__(self, next_path: str) -> None:
        super().__init__(next_path)
        self.next_path = next_path


@dataclass(frozen=True)
class Viewer:
    """The signed-in member and the CSRF token their forms carry."""

    actor: Actor
    csrf_token: str

    @property
    def member_id(self) -> str:
        return self.actor.member_id or ""


def session_csrf_token(secret: str) -> str:
    return hashlib.sha256(f"csrf:{secret}".encode()).hexdigest()


def _next_path(request: Request) -> str:
    path = request.url.path
    return path + (f"?{request.url.query}" if request.url.query else "")


def viewer(request: Request) -> Viewer:
    """The signed-in member. Raises SignInRequired without a valid session."""
    secret = request.cookies.get(SESSION_COOKIE)
    if not secret:
        raise SignInRequired(_next_path(request))
    try:
        actor = auth.authenticate_session(get_deps(request), secret)
    except Unauthorized:
        raise SignInRequired(_next_path(request)) from None
    return Viewer(actor=actor, csrf_token=session_csrf_token(secret))


def check_form(request: Request, form_token: object, expected: str) -> None:
    """A form post must come from our origin and carry the expected token. Raises Forbidden."""
    check_origin(request)
    if not isinstance(form_token, str) or not hmac.compare_digest(form_token, expected):
        raise Forbidden("This form has expired or did not come from this console; reload the page and try again")


def pre_session_token(request: Request) -> str:
    return request.cookies.get(PRE_SESSION_COOKIE) or secrets.token_urlsafe(24)


def safe_next(raw: object) -> str:
    """Where to go after signing in: a path on this server only (never another host)."""
    if isinstance(raw, str) and raw.startswith("/") and not raw.startswith("//") and "\\" not in raw:
        return raw
    return "/approvals"


def sign_in_url(next_path: str) -> str:
    return f"/sign-in?next={quote(next_path, safe='')}"


def error_message(error: DomainError) -> str:
    return error.message
