"""Access tokens and caller identity: secrets shown once, personal tokens acting as their member with the
weaker role, service tokens acting as themselves, roles capped by the creator's."""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import launchdarkly_api
import pytest
from launchdarkly_api.api.access_tokens_api import AccessTokensApi
from launchdarkly_api.api.account_members_api import AccountMembersApi
from launchdarkly_api.api.feature_flags_api import FeatureFlagsApi
from launchdarkly_api.api.other_api import OtherApi
from launchdarkly_api.api.projects_api import ProjectsApi

from tests.support import accounts, ldapi
from tests.support.accounts import unique
from tests.support.server import ServerProcess

OBJECT_ID = re.compile(r"^[0-9a-f]{24}$")


@pytest.fixture(scope="module")
def admin(server: ServerProcess) -> Iterator[launchdarkly_api.ApiClient]:
    with ldapi.client(server.url, server.admin_token) as api_client:
        yield api_client


def _status(call: object) -> int:
    assert callable(call)
    with pytest.raises(launchdarkly_api.ApiException) as info:
        call()
    return int(info.value.status)


def _replace(path: str, value: object) -> list[launchdarkly_api.PatchOperation]:
    return [launchdarkly_api.PatchOperation(op="replace", path=path, value=value)]


def test_the_secret_is_only_in_the_create_and_reset_responses(admin: launchdarkly_api.ApiClient) -> None:
    tokens = AccessTokensApi(admin)
    post = launchdarkly_api.AccessTokenPost(name=unique("once"), description="for a script", role="writer")
    created = tokens.post_token(post)
    assert re.fullmatch(r"api-[A-Za-z0-9._-]{30,}", created.token)
    assert OBJECT_ID.match(created.id)
    assert (created.name, created.description, created.role) == (post.name, "for a script", "writer")
    assert created.default_api_version == 20240415
    assert created.service_token is False
    fetched = tokens.get_token(created.id)
    assert fetched.token == created.token[-4:]
    listed = {t.id: t.token for t in tokens.get_tokens(limit=1000).items}
    assert listed[created.id] == created.token[-4:]
    reset = tokens.reset_token(created.id)
    assert reset.token.startswith("api-") and reset.token != created.token
    assert tokens.get_token(created.id).token == reset.token[-4:]


def test_a_reset_token_stops_the_old_secret_at_once(server: ServerProcess, admin: launchdarkly_api.ApiClient) -> None:
    created = AccessTokensApi(admin).post_token(launchdarkly_api.AccessTokenPost(name=unique("r"), role="reader"))
    reset = AccessTokensApi(admin).reset_token(created.id)
    old = httpx.get(f"{server.url}/api/v2/caller-identity", headers={"Authorization": created.token})
    assert old.status_code == 401
    new = httpx.get(f"{server.url}/api/v2/caller-identity", headers={"Authorization": reset.token})
    assert new.json()["tokenId"] == created.id


def test_patch_and_delete_a_token(server: ServerProcess, admin: launchdarkly_api.ApiClient) -> None:
    tokens = AccessTokensApi(admin)
    created = tokens.post_token(launchdarkly_api.AccessTokenPost(name=unique("p"), role="reader"))
    patched = tokens.patch_token(
        created.id,
        [
            launchdarkly_api.PatchOperation(op="replace", path="/name", value="renamed"),
            launchdarkly_api.PatchOperation(op="replace", path="/description", value="now described"),
            launchdarkly_api.PatchOperation(op="replace", path="/role", value="admin"),
        ],
    )
    assert (patched.name, patched.description, patched.role) == ("renamed", "now described", "admin")
    assert patched.last_modified >= created.last_modified
    assert _status(lambda: tokens.patch_token(created.id, _replace("/role", "owner"))) == 400
    assert _status(lambda: tokens.patch_token(created.id, _replace("/token", "api-mine"))) == 400
    tokens.delete_token(created.id)
    assert _status(lambda: tokens.get_token(created.id)) == 404
    gone = httpx.get(f"{server.url}/api/v2/projects", headers={"Authorization": created.token})
    assert gone.status_code == 401


def test_a_personal_token_acts_as_its_member_with_the_weaker_role(
    server: ServerProcess, admin: launchdarkly_api.ApiClient
) -> None:
    person = accounts.account(admin, server.url, "admin")
    reader_token = accounts.personal_token(server.url, person, role="reader")
    admin_token = accounts.personal_token(server.url, person, role="admin")
    with ldapi.client(server.url, reader_token) as as_reader, ldapi.client(server.url, admin_token) as as_admin:
        identity = OtherApi(as_reader).get_caller_identity()
        assert (identity.member_id, identity.token_kind, identity.service_token) == (person.id, "personal", False)
        project = launchdarkly_api.ProjectPost(key=unique("weak"), name="Weak")
        assert _status(lambda: ProjectsApi(as_reader).post_project(project)) == 403
        assert ProjectsApi(as_admin).post_project(project).key == project.key
        AccountMembersApi(admin).patch_member(person.id, _replace("/role", "writer"))
        again = launchdarkly_api.ProjectPost(key=unique("weak"), name="Demoted")
        assert _status(lambda: ProjectsApi(as_admin).post_project(again)) == 403  # the member is a writer now
        flag = launchdarkly_api.FeatureFlagBody(key="still-a-writer", name="W")
        assert FeatureFlagsApi(as_admin).post_feature_flag(project.key, flag).key == "still-a-writer"


def test_a_service_token_acts_as_itself(server: ServerProcess, admin: launchdarkly_api.ApiClient) -> None:
    creator = accounts.account(admin, server.url, "admin")
    with ldapi.client(server.url, accounts.personal_token(server.url, creator)) as as_creator:
        post = launchdarkly_api.AccessTokenPost(name=unique("svc"), role="writer", service_token=True)
        service = AccessTokensApi(as_creator).post_token(post)
    assert (service.service_token, service.owner_id) == (True, creator.id)
    AccountMembersApi(admin).patch_member(creator.id, _replace("/role", "reader"))  # no effect on it
    with ldapi.client(server.url, service.token) as as_service:
        identity = OtherApi(as_service).get_caller_identity()
        assert (identity.token_kind, identity.service_token, identity.token_id) == ("service", True, service.id)
        assert identity.member_id is None
        project = unique("svc")
        ProjectsApi(admin).post_project(launchdarkly_api.ProjectPost(key=project, name="S"))
        body = launchdarkly_api.FeatureFlagBody(key="by-service", name="S")
        assert FeatureFlagsApi(as_service).post_feature_flag(project, body).maintainer_id is None
        personal = launchdarkly_api.AccessTokenPost(name="nobody's", role="reader")
        assert _status(lambda: AccessTokensApi(as_service).post_token(personal)) == 403


def test_a_token_role_is_never_above_its_creators(server: ServerProcess, admin: launchdarkly_api.ApiClient) -> None:
    writer = accounts.account(admin, server.url, "writer")
    with accounts.session_client(server.url, writer.session) as as_writer:
        tokens = AccessTokensApi(as_writer)
        too_strong = launchdarkly_api.AccessTokenPost(name="up", role="admin")
        assert _status(lambda: tokens.post_token(too_strong)) == 403
        own = tokens.post_token(launchdarkly_api.AccessTokenPost(name="mine", role="writer"))
        assert _status(lambda: tokens.patch_token(own.id, _replace("/role", "admin"))) == 403
        assert tokens.get_token(own.id).role == "writer"
        assert _status(lambda: tokens.patch_token(own.id, _replace("/role", "owner"))) == 400


def test_members_see_their_own_tokens_and_admins_see_all(
    server: ServerProcess, admin: launchdarkly_api.ApiClient
) -> None:
    reader = accounts.account(admin, server.url, "reader")
    other = accounts.account(admin, server.url, "reader")
    mine = accounts.personal_token_id(server.url, reader)
    theirs = accounts.personal_token_id(server.url, other)
    with accounts.session_client(server.url, reader.session) as as_reader:
        tokens = AccessTokensApi(as_reader)
        visible = {t.id for t in tokens.get_tokens(show_all=True, limit=1000).items}
        assert mine in visible and theirs not in visible
        assert {t.member_id for t in tokens.get_tokens(limit=1000).items} == {reader.id}
        assert tokens.get_token(mine).member_id == reader.id
        assert _status(lambda: tokens.get_token(theirs)) == 403
    everything = {t.id for t in AccessTokensApi(admin).get_tokens(show_all=True, limit=1000).items}
    assert {mine, theirs} <= everything


def test_tokens_list_is_paginated_by_25(admin: launchdarkly_api.ApiClient) -> None:
    tokens = AccessTokensApi(admin)
    for _ in range(26):
        tokens.post_token(launchdarkly_api.AccessTokenPost(name=unique("page"), role="reader"))
    default = tokens.get_tokens()
    assert len(default.items) == 25 and default.total_count > 25
    assert "limit=25" in default.links["next"].href
    first = tokens.get_tokens(limit=2, offset=0)
    assert len(first.items) == 2
    assert first.total_count >= 3
    assert "next" in first.links
    second = tokens.get_tokens(limit=2, offset=2)
    assert {t.id for t in first.items}.isdisjoint({t.id for t in second.items})


def test_caller_identity_of_the_admin_token(server: ServerProcess, admin: launchdarkly_api.ApiClient) -> None:
    identity = OtherApi(admin).get_caller_identity()
    assert OBJECT_ID.match(identity.account_id)
    assert (identity.auth_kind, identity.token_kind, identity.service_token) == ("token", "personal", False)
    owner = AccountMembersApi(admin).get_member(identity.member_id)
    assert owner.role == "owner"
    assert AccessTokensApi(admin).get_token(identity.token_id).member_id == owner.id
