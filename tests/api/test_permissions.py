"""The role matrix: every actor against every mutating endpoint of issue 2 (and a few reads).

Actors: members acting through a personal token of their own role (reader, writer, admin), the owner's
personal token (a token's role is at most admin), a member demoted to no_access after minting a token,
and service tokens of each role. A cell is allowed (2xx, with the data checked) when the actor is in the
row's set, refused with 403 ``forbidden`` otherwise. Own-token rows do not apply to service tokens.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import launchdarkly_api
import pytest
from launchdarkly_api.api.access_tokens_api import AccessTokensApi
from launchdarkly_api.api.account_members_api import AccountMembersApi
from launchdarkly_api.api.environments_api import EnvironmentsApi
from launchdarkly_api.api.feature_flags_api import FeatureFlagsApi
from launchdarkly_api.api.projects_api import ProjectsApi
from launchdarkly_api.api.teams_api import TeamsApi

from tests.support import accounts, ldapi
from tests.support.accounts import unique
from tests.support.recording import Recorder
from tests.support.server import ServerProcess

MEMBER_ACTORS = ("reader", "writer", "admin", "owner", "no_access")
SERVICE_ACTORS = ("service-reader", "service-writer", "service-admin")
ACTORS = MEMBER_ACTORS + SERVICE_ACTORS

ADMINS = frozenset({"admin", "owner", "service-admin"})
WRITERS = ADMINS | {"writer", "service-writer"}
READERS = WRITERS | {"reader", "service-reader"}
MEMBERS_WITH_A_ROLE = frozenset({"reader", "writer", "admin", "owner"})  # may manage their own tokens
OWN_TOKEN_ROWS_PER_ACTOR = 3


@dataclass
class World:
    """What the matrix acts on, made once per server by the admin token."""

    server: ServerProcess
    admin: launchdarkly_api.ApiClient
    secrets: dict[str, str]  # actor -> token secret
    flag_project: str
    env_project: str
    victim: accounts.Account  # a reader whose tokens other actors try to manage
    own_tokens: dict[str, list[str]] = field(default_factory=dict)  # member actor -> spare token ids

    def client(self, actor: str) -> launchdarkly_api.ApiClient:
        return ldapi.client(self.server.url, self.secrets[actor])


# Setups run as the admin; each returns what the call acts on. Calls run as the actor.
Setup = Callable[[World, str], Any]
Call = Callable[[launchdarkly_api.ApiClient, Any], None]


def _none(_world: World, _actor: str) -> None:
    return None


def _new_project(world: World, _actor: str) -> str:
    key = unique("perm")
    ProjectsApi(world.admin).post_project(launchdarkly_api.ProjectPost(key=key, name=key))
    return key


def _new_environment(world: World, _actor: str) -> tuple[str, str]:
    key = unique("env")
    post = launchdarkly_api.EnvironmentPost(key=key, name=key, color="123456")
    EnvironmentsApi(world.admin).post_environment(world.env_project, post)
    return world.env_project, key


def _new_flag(world: World, _actor: str) -> tuple[str, str]:
    key = unique("flag")
    FeatureFlagsApi(world.admin).post_feature_flag(
        world.flag_project, launchdarkly_api.FeatureFlagBody(key=key, name=key)
    )
    return world.flag_project, key


def _new_member(world: World, _actor: str) -> str:
    form = launchdarkly_api.NewMemberForm(email=accounts.unique_email("target"), role="reader")
    (member,) = AccountMembersApi(world.admin).post_members([form]).items
    return str(member.id)


def _new_team(world: World, _actor: str) -> str:
    key = unique("team")
    TeamsApi(world.admin).post_team(launchdarkly_api.TeamPostInput(key=key, name=key))
    return key


def _new_team_and_member(world: World, actor: str) -> tuple[str, str]:
    form = launchdarkly_api.NewMemberForm(email=accounts.unique_email("csv"), role="reader")
    (member,) = AccountMembersApi(world.admin).post_members([form]).items
    return _new_team(world, actor), str(member.email)


def _own_token(world: World, actor: str) -> str:
    return world.own_tokens[actor].pop()


def _victims_token(world: World, _actor: str) -> str:
    return accounts.personal_token_id(world.server.url, world.victim)


def _service_token(world: World, _actor: str) -> str:
    return str(accounts.service_token(world.admin, "reader").id)


def _replace(path: str, value: object) -> list[launchdarkly_api.PatchOperation]:
    return [launchdarkly_api.PatchOperation(op="replace", path=path, value=value)]


# --- calls ----------------------------------------------------------------------------------------


def list_projects(api: launchdarkly_api.ApiClient, _: None) -> None:
    assert ProjectsApi(api).get_projects(limit=1).total_count >= 1


def list_flags(api: launchdarkly_api.ApiClient, target: tuple[str, str]) -> None:
    assert target[1] in {f.key for f in FeatureFlagsApi(api).get_feature_flags(target[0], limit=100).items}


def list_members(api: launchdarkly_api.ApiClient, _: None) -> None:
    assert AccountMembersApi(api).get_members(limit=1).total_count >= 1


def get_team(api: launchdarkly_api.ApiClient, key: str) -> None:
    assert TeamsApi(api).get_team(key).key == key


def list_tokens(api: launchdarkly_api.ApiClient, _: None) -> None:
    assert AccessTokensApi(api).get_tokens().items is not None


def create_project(api: launchdarkly_api.ApiClient, _: None) -> None:
    key = unique("perm")
    created = ProjectsApi(api).post_project(launchdarkly_api.ProjectPost(key=key, name="Made"))
    assert created.key == key


def patch_project(api: launchdarkly_api.ApiClient, key: str) -> None:
    assert ProjectsApi(api).patch_project(key, _replace("/name", "Renamed")).name == "Renamed"


def delete_project(api: launchdarkly_api.ApiClient, key: str) -> None:
    ProjectsApi(api).delete_project(key)


def create_environment(api: launchdarkly_api.ApiClient, target: tuple[str, str]) -> None:
    key = unique("env")
    post = launchdarkly_api.EnvironmentPost(key=key, name=key, color="654321")
    assert EnvironmentsApi(api).post_environment(target[0], post).key == key


def patch_environment(api: launchdarkly_api.ApiClient, target: tuple[str, str]) -> None:
    patched = EnvironmentsApi(api).patch_environment(*target, _replace("/approvalSettings/minNumApprovals", 2))
    assert patched.approval_settings.min_num_approvals == 2


def delete_environment(api: launchdarkly_api.ApiClient, target: tuple[str, str]) -> None:
    EnvironmentsApi(api).delete_environment(*target)


def reset_sdk_key(api: launchdarkly_api.ApiClient, target: tuple[str, str]) -> None:
    assert EnvironmentsApi(api).reset_environment_sdk_key(*target).api_key.startswith("sdk-")


def reset_mobile_key(api: launchdarkly_api.ApiClient, target: tuple[str, str]) -> None:
    assert EnvironmentsApi(api).reset_environment_mobile_key(*target).mobile_key.startswith("mob-")


def create_flag(api: launchdarkly_api.ApiClient, target: tuple[str, str]) -> None:
    key = unique("flag")
    body = launchdarkly_api.FeatureFlagBody(key=key, name=key)
    assert FeatureFlagsApi(api).post_feature_flag(target[0], body).key == key


def delete_flag(api: launchdarkly_api.ApiClient, target: tuple[str, str]) -> None:
    FeatureFlagsApi(api).delete_feature_flag(*target)


def invite_member(api: launchdarkly_api.ApiClient, _: None) -> None:
    email = accounts.unique_email("invited")
    form = launchdarkly_api.NewMemberForm(email=email, role="reader")
    assert [m.email for m in AccountMembersApi(api).post_members([form]).items] == [email]


def patch_member(api: launchdarkly_api.ApiClient, member_id: str) -> None:
    assert AccountMembersApi(api).patch_member(member_id, _replace("/firstName", "Ren")).first_name == "Ren"


def delete_member(api: launchdarkly_api.ApiClient, member_id: str) -> None:
    AccountMembersApi(api).delete_member(member_id)


def create_team(api: launchdarkly_api.ApiClient, _: None) -> None:
    key = unique("team")
    assert TeamsApi(api).post_team(launchdarkly_api.TeamPostInput(key=key, name=key)).key == key


def patch_team(api: launchdarkly_api.ApiClient, key: str) -> None:
    patch = launchdarkly_api.TeamPatchInput(instructions=[{"kind": "updateDescription", "value": "d"}])
    assert TeamsApi(api).patch_team(key, patch).description == "d"


def delete_team(api: launchdarkly_api.ApiClient, key: str) -> None:
    TeamsApi(api).delete_team(key)


def add_team_members(api: launchdarkly_api.ApiClient, target: tuple[str, str]) -> None:
    key, email = target
    imported = TeamsApi(api).post_team_members(key, file=("members.csv", f"{email}\n".encode()))
    assert [i.status for i in imported.items] == ["success"]


def create_personal_token(api: launchdarkly_api.ApiClient, _: None) -> None:
    created = AccessTokensApi(api).post_token(launchdarkly_api.AccessTokenPost(name="mine", role="reader"))
    assert created.service_token is False and created.token.startswith("api-")


def create_service_token(api: launchdarkly_api.ApiClient, _: None) -> None:
    post = launchdarkly_api.AccessTokenPost(name="svc", role="reader", service_token=True)
    assert AccessTokensApi(api).post_token(post).service_token is True


def patch_token(api: launchdarkly_api.ApiClient, token_id: str) -> None:
    assert AccessTokensApi(api).patch_token(token_id, _replace("/name", "renamed")).name == "renamed"


def reset_token(api: launchdarkly_api.ApiClient, token_id: str) -> None:
    assert AccessTokensApi(api).reset_token(token_id).token.startswith("api-")


def delete_token(api: launchdarkly_api.ApiClient, token_id: str) -> None:
    AccessTokensApi(api).delete_token(token_id)


@dataclass(frozen=True)
class Row:
    endpoint: str
    allowed: frozenset[str]
    setup: Setup
    call: Call
    actors: tuple[str, ...] = ACTORS


# Row(endpoint, the actors allowed, setup (run as the admin), call (run as the actor)[, the actors it applies to])
MATRIX = [
    Row("GET    /api/v2/projects", READERS, _none, list_projects),
    Row("GET    /api/v2/flags/{projectKey}", READERS, _new_flag, list_flags),
    Row("GET    /api/v2/members", READERS, _none, list_members),
    Row("GET    /api/v2/teams/{teamKey}", READERS, _new_team, get_team),
    Row("GET    /api/v2/tokens", READERS, _none, list_tokens),
    Row("POST   /api/v2/projects", ADMINS, _none, create_project),
    Row("PATCH  /api/v2/projects/{projectKey}", ADMINS, _new_project, patch_project),
    Row("DELETE /api/v2/projects/{projectKey}", ADMINS, _new_project, delete_project),
    Row("POST   /api/v2/projects/{p}/environments", ADMINS, _new_environment, create_environment),
    Row("PATCH  /api/v2/projects/{p}/environments/{e}", ADMINS, _new_environment, patch_environment),
    Row("DELETE /api/v2/projects/{p}/environments/{e}", ADMINS, _new_environment, delete_environment),
    Row("POST   /api/v2/projects/{p}/environments/{e}/apiKey", ADMINS, _new_environment, reset_sdk_key),
    Row("POST   /api/v2/projects/{p}/environments/{e}/mobileKey", ADMINS, _new_environment, reset_mobile_key),
    Row("POST   /api/v2/flags/{projectKey}", WRITERS, _new_flag, create_flag),
    Row("DELETE /api/v2/flags/{projectKey}/{featureFlagKey}", WRITERS, _new_flag, delete_flag),
    Row("POST   /api/v2/members", ADMINS, _none, invite_member),
    Row("PATCH  /api/v2/members/{id}", ADMINS, _new_member, patch_member),
    Row("DELETE /api/v2/members/{id}", ADMINS, _new_member, delete_member),
    Row("POST   /api/v2/teams", ADMINS, _none, create_team),
    Row("PATCH  /api/v2/teams/{teamKey}", ADMINS, _new_team, patch_team),
    Row("DELETE /api/v2/teams/{teamKey}", ADMINS, _new_team, delete_team),
    Row("POST   /api/v2/teams/{teamKey}/members", ADMINS, _new_team_and_member, add_team_members),
    Row("POST   /api/v2/tokens (personal)", MEMBERS_WITH_A_ROLE, _none, create_personal_token),
    Row("POST   /api/v2/tokens (service)", ADMINS, _none, create_service_token),
    Row("PATCH  /api/v2/tokens/{own}", MEMBERS_WITH_A_ROLE, _own_token, patch_token, MEMBER_ACTORS),
    Row("POST   /api/v2/tokens/{own}/reset", MEMBERS_WITH_A_ROLE, _own_token, reset_token, MEMBER_ACTORS),
    Row("DELETE /api/v2/tokens/{own}", MEMBERS_WITH_A_ROLE, _own_token, delete_token, MEMBER_ACTORS),
    Row("PATCH  /api/v2/tokens/{other member's}", ADMINS, _victims_token, patch_token),
    Row("POST   /api/v2/tokens/{other member's}/reset", ADMINS, _victims_token, reset_token),
    Row("DELETE /api/v2/tokens/{other member's}", ADMINS, _victims_token, delete_token),
    Row("PATCH  /api/v2/tokens/{service}", ADMINS, _service_token, patch_token),
    Row("POST   /api/v2/tokens/{service}/reset", ADMINS, _service_token, reset_token),
    Row("DELETE /api/v2/tokens/{service}", ADMINS, _service_token, delete_token),
]
OWN_TOKEN_ROWS = sum(1 for row in MATRIX if row.setup is _own_token)

CELLS = [
    pytest.param(row, actor, id=f"{' '.join(row.endpoint.split())} by {actor}")
    for row in MATRIX
    for actor in row.actors
]


def _spare_tokens(server: ServerProcess, secret: str) -> list[str]:
    with ldapi.client(server.url, secret) as api:
        tokens = AccessTokensApi(api)
        return [
            str(tokens.post_token(launchdarkly_api.AccessTokenPost(name=unique("spare"), role="reader")).id)
            for _ in range(OWN_TOKEN_ROWS)
        ]


@pytest.fixture(scope="module")
def world(server: ServerProcess) -> Iterator[World]:
    url = server.url
    with ldapi.client(url, server.admin_token) as admin:
        secrets = {"owner": server.admin_token}
        own_tokens = {"owner": _spare_tokens(server, server.admin_token)}
        for role in ("reader", "writer", "admin", "no_access"):
            person = accounts.account(admin, url, "reader" if role == "no_access" else role)
            secrets[role] = accounts.personal_token(url, person)
            own_tokens[role] = _spare_tokens(server, secrets[role])
            if role == "no_access":  # demoted after minting: the token now acts as no_access
                AccountMembersApi(admin).patch_member(person.id, _replace("/role", "no_access"))
        for role in ("reader", "writer", "admin"):
            secrets[f"service-{role}"] = str(accounts.service_token(admin, role).token)
        flag_project, env_project = unique("flags"), unique("envs")
        for key in (flag_project, env_project):
            ProjectsApi(admin).post_project(launchdarkly_api.ProjectPost(key=key, name=key))
        victim = accounts.account(admin, url, "reader")
        yield World(server, admin, secrets, flag_project, env_project, victim, own_tokens)


def test_the_matrix_covers_every_actor_and_endpoint() -> None:
    assert len(MATRIX) == len({row.endpoint for row in MATRIX})
    assert {actor for _, actor in (c.values for c in CELLS)} == set(ACTORS)
    assert all(row.allowed <= set(ACTORS) for row in MATRIX)
    assert OWN_TOKEN_ROWS == OWN_TOKEN_ROWS_PER_ACTOR


@pytest.mark.parametrize(("row", "actor"), CELLS)
def test_role_matrix(world: World, row: Row, actor: str) -> None:
    target = row.setup(world, actor)
    recorder = Recorder()
    with recorder.attach(world.client(actor)) as api:
        if actor in row.allowed:
            row.call(api, target)
        else:
            with pytest.raises(launchdarkly_api.ApiException) as refused:
                row.call(api, target)
            assert refused.value.status == 403, refused.value.body
            assert json.loads(refused.value.body or "{}")["code"] == "forbidden"
    (exchange,) = recorder.exchanges  # the call is one request: the endpoint of the row, nothing before it
    assert exchange.method == row.endpoint.split()[0]
