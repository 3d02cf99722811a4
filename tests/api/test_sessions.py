"""Signing in with email and password: the session cookie, Origin checks on writes, personal tokens made
from a session, and sign-out. The sign-in rate limit has its own module, test_sign_in_throttling.py."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import launchdarkly_api
import pytest
from launchdarkly_api.api.access_tokens_api import AccessTokensApi
from launchdarkly_api.api.account_members_api import AccountMembersApi
from launchdarkly_api.api.other_api import OtherApi
from launchdarkly_api.api.projects_api import ProjectsApi

from tests.support import accounts, ldapi
from tests.support.accounts import PASSWORD, SESSION_COOKIE, unique
from tests.support.server import ServerProcess


@pytest.fixture(scope="module")
def admin(server: ServerProcess) -> Iterator[launchdarkly_api.ApiClient]:
    with ldapi.client(server.url, server.admin_token) as api_client:
        yield api_client


def _login(server: ServerProcess, email: str, password: str) -> httpx.Response:
    return httpx.post(f"{server.url}/auth/login", json={"email": email, "password": password})


def test_login_sets_an_http_only_strict_session_cookie(
    server: ServerProcess, admin: launchdarkly_api.ApiClient
) -> None:
    member = accounts.invite(admin, "writer")
    response = _login(server, member.email, PASSWORD)
    assert response.status_code == 200
    assert response.json()["_id"] == member.id
    assert response.json()["email"] == member.email
    cookie = response.headers["set-cookie"]
    attributes = {part.strip().split("=")[0].lower(): part.strip() for part in cookie.split(";")}
    assert cookie.startswith(f"{SESSION_COOKIE}=")
    assert "httponly" in attributes
    assert attributes["samesite"].lower() == "samesite=strict"
    assert attributes["path"] == "Path=/"


@pytest.mark.parametrize("wrong", ["password", "email"])
def test_a_bad_pair_is_401(server: ServerProcess, admin: launchdarkly_api.ApiClient, wrong: str) -> None:
    member = accounts.invite(admin, "reader")
    email = accounts.unique_email("nobody") if wrong == "email" else member.email
    password = "not the password" if wrong == "password" else PASSWORD
    response = _login(server, email, password)
    assert response.status_code == 401
    assert response.json()["code"] == "unauthorized"
    assert response.json()["message"] == "Invalid email or password"
    assert SESSION_COOKIE not in response.cookies


def test_a_no_access_member_cannot_sign_in(server: ServerProcess, admin: launchdarkly_api.ApiClient) -> None:
    member = accounts.invite(admin, "no_access")
    assert _login(server, member.email, PASSWORD).status_code == 401


def test_login_needs_email_and_password(server: ServerProcess) -> None:
    response = httpx.post(f"{server.url}/auth/login", json={"email": "a@example.com"})
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_request"
    assert "password" in response.json()["message"]


def test_a_session_authenticates_the_rest_api(server: ServerProcess, admin: launchdarkly_api.ApiClient) -> None:
    person = accounts.account(admin, server.url, "admin")
    with accounts.session_client(server.url, person.session) as api_client:
        identity = OtherApi(api_client).get_caller_identity()
        assert (identity.auth_kind, identity.member_id) == ("session", person.id)
        key = unique("session")
        created = ProjectsApi(api_client).post_project(launchdarkly_api.ProjectPost(key=key, name="By session"))
        assert created.key == key
        assert key in {p.key for p in ProjectsApi(api_client).get_projects(limit=1000).items}


@pytest.mark.parametrize("origin", [None, "https://evil.example", "http://127.0.0.1:1"])
def test_a_session_write_needs_our_origin(
    server: ServerProcess, admin: launchdarkly_api.ApiClient, origin: str | None
) -> None:
    person = accounts.account(admin, server.url, "admin")
    key = unique("csrf")
    headers = {"Origin": origin} if origin else {}
    response = httpx.post(
        f"{server.url}/api/v2/projects",
        json={"key": key, "name": "Forged"},
        headers=headers,
        cookies={SESSION_COOKIE: person.session},
    )
    assert response.status_code == 403
    assert response.json()["code"] == "forbidden"
    assert "Origin" in response.json()["message"]
    readable = httpx.get(f"{server.url}/api/v2/projects/{key}", cookies={SESSION_COOKIE: person.session})
    assert readable.status_code == 404  # nothing was created; reads need no Origin


def test_a_token_needs_no_origin(server: ServerProcess) -> None:
    key = unique("no-origin")
    response = httpx.post(
        f"{server.url}/api/v2/projects",
        json={"key": key, "name": "Scripted"},
        headers={"Authorization": server.admin_token, "Origin": "https://elsewhere.example"},
    )
    assert response.status_code == 201


def test_a_session_creates_its_members_personal_token(server: ServerProcess, admin: launchdarkly_api.ApiClient) -> None:
    person = accounts.account(admin, server.url, "writer")
    with accounts.session_client(server.url, person.session) as api_client:
        created = AccessTokensApi(api_client).post_token(launchdarkly_api.AccessTokenPost(name="cli", role="writer"))
    assert (created.member_id, created.owner_id, created.service_token) == (person.id, person.id, False)
    with ldapi.client(server.url, created.token) as by_token:
        identity = OtherApi(by_token).get_caller_identity()
    assert (identity.member_id, identity.token_id, identity.token_kind) == (person.id, created.id, "personal")


def test_logout_ends_the_session(server: ServerProcess, admin: launchdarkly_api.ApiClient) -> None:
    person = accounts.account(admin, server.url, "reader")
    cookies = {SESSION_COOKIE: person.session}
    assert httpx.get(f"{server.url}/api/v2/caller-identity", cookies=cookies).status_code == 200
    response = httpx.post(f"{server.url}/auth/logout", cookies=cookies)
    assert response.status_code == 204
    assert f'{SESSION_COOKIE}=""' in response.headers["set-cookie"] or "Max-Age=0" in response.headers["set-cookie"]
    after = httpx.get(f"{server.url}/api/v2/caller-identity", cookies=cookies)
    assert after.status_code == 401
    assert after.json()["code"] == "unauthorized"


def test_removing_a_member_ends_their_sessions(server: ServerProcess, admin: launchdarkly_api.ApiClient) -> None:
    person = accounts.account(admin, server.url, "reader")
    AccountMembersApi(admin).delete_member(person.id)
    response = httpx.get(f"{server.url}/api/v2/projects", cookies={SESSION_COOKIE: person.session})
    assert response.status_code == 401
