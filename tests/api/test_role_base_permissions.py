"""A custom role's ``basePermissions``: ``reader`` grants the reader's view wherever the role's policy
says nothing, and the role's own denies still hold against it; ``no_access`` (or unset) grants only the
policy. Checked with a service token that carries the role (``customRoleIds``), so everything it may do
comes from the role."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import launchdarkly_api
import pytest
from launchdarkly_api.api.access_tokens_api import AccessTokensApi
from launchdarkly_api.api.custom_roles_api import CustomRolesApi
from launchdarkly_api.models import AccessTokenPost, CustomRolePost, StatementPost

from tests.support import ldapi
from tests.support.accounts import unique
from tests.support.server import ServerProcess

UPDATE_ON = StatementPost(effect="allow", resources=["proj/*:env/*:flag/*"], actions=["updateOn"])


@pytest.fixture(scope="module")
def api(server: ServerProcess) -> Iterator[launchdarkly_api.ApiClient]:
    with ldapi.client(server.url, server.admin_token) as api_client:
        yield api_client


@pytest.fixture(scope="module")
def projects(server: ServerProcess) -> tuple[str, str]:
    """Two projects: one anyone with a view may read, one a role below hides."""
    keys = (unique("open"), unique("hidden"))
    with httpx.Client(base_url=server.url, headers={"Authorization": server.admin_token}) as client:
        for key in keys:
            response = client.post("/api/v2/projects", json={"key": key, "name": key})
            assert response.status_code == 201, response.text
    return keys


def _member_with(
    api: launchdarkly_api.ApiClient, server: ServerProcess, *statements: StatementPost, base: str | None
) -> httpx.Client:
    key = unique("role")
    post = CustomRolePost(key=key, name=key, policy=list(statements), basePermissions=base)
    role = CustomRolesApi(api).post_custom_role(post)
    token = AccessTokensApi(api).post_token(
        AccessTokenPost(name=unique("svc"), customRoleIds=[role.id], service_token=True)
    )
    assert token.token
    return httpx.Client(base_url=server.url, headers={"Authorization": token.token})


@pytest.mark.parametrize("base", ["no_access", None])
def test_without_reader_base_permissions_the_role_grants_only_its_policy(
    api: launchdarkly_api.ApiClient, server: ServerProcess, projects: tuple[str, str], base: str | None
) -> None:
    with _member_with(api, server, UPDATE_ON, base=base) as member:
        response = member.get(f"/api/v2/projects/{projects[0]}")
        assert response.status_code == 403, response.text
        assert response.json()["code"] == "forbidden"
        assert member.get("/api/v2/members").status_code == 403


def test_reader_base_permissions_grant_the_readers_view(
    api: launchdarkly_api.ApiClient, server: ServerProcess, projects: tuple[str, str]
) -> None:
    with _member_with(api, server, UPDATE_ON, base="reader") as member:
        assert member.get(f"/api/v2/projects/{projects[0]}").status_code == 200
        assert member.get("/api/v2/members").status_code == 200
        assert member.get("/api/v2/roles").status_code == 200
        # A view, not a write: the reader's view adds no change.
        created = member.post("/api/v2/projects", json={"key": unique("nope"), "name": "Nope"})
        assert created.status_code == 403, created.text


def test_the_roles_own_deny_holds_against_its_reader_base(
    api: launchdarkly_api.ApiClient, server: ServerProcess, projects: tuple[str, str]
) -> None:
    open_key, hidden_key = projects
    hide = StatementPost(effect="deny", resources=[f"proj/{hidden_key}"], actions=["viewProject"])
    with _member_with(api, server, UPDATE_ON, hide, base="reader") as member:
        assert member.get(f"/api/v2/projects/{open_key}").status_code == 200
        refused = member.get(f"/api/v2/projects/{hidden_key}")
        assert refused.status_code == 403, refused.text
