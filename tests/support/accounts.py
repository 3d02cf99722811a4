"""Members, sessions and tokens for API tests, made through flagward's own API.

A member's personal token is minted the way a person would: sign in with email and password, then
``POST /api/v2/tokens`` with the session cookie and a matching ``Origin``.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

import httpx
import launchdarkly_api
from launchdarkly_api.api.access_tokens_api import AccessTokensApi
from launchdarkly_api.api.account_members_api import AccountMembersApi

from tests.support import ldapi

PASSWORD = "correct horse battery staple"
SESSION_COOKIE = "flagward_session"


def unique(prefix: str) -> str:
    """A key no other test uses (the module's server is shared)."""
    return f"{prefix}-{secrets.token_hex(4)}"


def unique_email(prefix: str = "member") -> str:
    return f"{unique(prefix)}@example.com"


@dataclass(frozen=True)
class Account:
    """A member who can sign in, with a signed-in session."""

    id: str
    email: str
    role: str
    password: str
    session: str  # the session cookie's value


def invite(
    admin: launchdarkly_api.ApiClient, role: str, *, email: str | None = None, password: str | None = PASSWORD
) -> launchdarkly_api.Member:
    """A new member; without a password (quicker: no hashing) they cannot sign in."""
    form = launchdarkly_api.NewMemberForm(email=email or unique_email(role), role=role, password=password)
    created = AccountMembersApi(admin).post_members([form])
    assert created.items is not None
    (member,) = created.items
    return member


def login(base_url: str, email: str, password: str = PASSWORD) -> str:
    """Sign in; returns the session cookie's value."""
    response = httpx.post(f"{base_url}/auth/login", json={"email": email, "password": password})
    assert response.status_code == 200, response.text
    cookie = response.cookies.get(SESSION_COOKIE)
    assert cookie, response.headers
    return cookie


def session_client(base_url: str, session: str) -> launchdarkly_api.ApiClient:
    """The official client authenticated by a session cookie, sending our Origin like a browser."""
    configuration = launchdarkly_api.Configuration(host=base_url)
    api_client = launchdarkly_api.ApiClient(configuration, cookie=f"{SESSION_COOKIE}={session}")
    api_client.set_default_header("Origin", base_url)
    return api_client


def account(admin: launchdarkly_api.ApiClient, base_url: str, role: str) -> Account:
    member = invite(admin, role)
    return Account(member.id, member.email, role, PASSWORD, login(base_url, member.email))


def personal_token(base_url: str, who: Account, role: str | None = None, name: str | None = None) -> str:
    """A new personal token of ``who`` (role: the member's own by default); returns its secret."""
    with session_client(base_url, who.session) as api_client:
        post = launchdarkly_api.AccessTokenPost(name=name or unique("pat"), role=role or who.role)
        created = AccessTokensApi(api_client).post_token(post)
    assert created.token and created.token.startswith("api-")
    return created.token


def personal_token_id(base_url: str, who: Account, role: str | None = None) -> str:
    with session_client(base_url, who.session) as api_client:
        post = launchdarkly_api.AccessTokenPost(name=unique("pat"), role=role or who.role)
        return str(AccessTokensApi(api_client).post_token(post).id)


def service_token(admin: launchdarkly_api.ApiClient, role: str) -> launchdarkly_api.Token:
    post = launchdarkly_api.AccessTokenPost(name=unique(f"svc-{role}"), role=role, service_token=True)
    created = AccessTokensApi(admin).post_token(post)
    assert created.token and created.token.startswith("api-")
    return created


def token_client(base_url: str, token: str) -> launchdarkly_api.ApiClient:
    return ldapi.client(base_url, token)
