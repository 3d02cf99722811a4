"""Every response flagward serves for the endpoints of issue 2 validates against LaunchDarkly's OpenAPI
document: one scenario drives each endpoint with the official client while recording every exchange,
then each recorded body is checked against the schema the document declares for its status."""

from __future__ import annotations

from collections.abc import Iterator

import launchdarkly_api
import pytest
from launchdarkly_api.api.access_tokens_api import AccessTokensApi
from launchdarkly_api.api.account_members_api import AccountMembersApi
from launchdarkly_api.api.environments_api import EnvironmentsApi
from launchdarkly_api.api.feature_flags_api import FeatureFlagsApi
from launchdarkly_api.api.other_api import OtherApi
from launchdarkly_api.api.projects_api import ProjectsApi
from launchdarkly_api.api.teams_api import TeamsApi

from tests.support import accounts, ldapi
from tests.support.accounts import unique
from tests.support.openapi import SPEC_ENV, SpecUnavailable, load_spec, spec_path
from tests.support.recording import Recorder
from tests.support.server import ServerProcess

# (METHOD, template) of every operation of issue 2; the scenario must reach each one.
OPERATIONS = {
    ("GET", "/api/v2/caller-identity"),
    ("GET", "/api/v2/projects"),
    ("POST", "/api/v2/projects"),
    ("GET", "/api/v2/projects/{projectKey}"),
    ("PATCH", "/api/v2/projects/{projectKey}"),
    ("DELETE", "/api/v2/projects/{projectKey}"),
    ("GET", "/api/v2/projects/{projectKey}/environments"),
    ("POST", "/api/v2/projects/{projectKey}/environments"),
    ("GET", "/api/v2/projects/{projectKey}/environments/{environmentKey}"),
    ("PATCH", "/api/v2/projects/{projectKey}/environments/{environmentKey}"),
    ("DELETE", "/api/v2/projects/{projectKey}/environments/{environmentKey}"),
    ("POST", "/api/v2/projects/{projectKey}/environments/{environmentKey}/apiKey"),
    ("POST", "/api/v2/projects/{projectKey}/environments/{environmentKey}/mobileKey"),
    ("GET", "/api/v2/flags/{projectKey}"),
    ("POST", "/api/v2/flags/{projectKey}"),
    ("GET", "/api/v2/flags/{projectKey}/{featureFlagKey}"),
    ("DELETE", "/api/v2/flags/{projectKey}/{featureFlagKey}"),
    ("GET", "/api/v2/members"),
    ("POST", "/api/v2/members"),
    ("GET", "/api/v2/members/{id}"),
    ("PATCH", "/api/v2/members/{id}"),
    ("DELETE", "/api/v2/members/{id}"),
    ("GET", "/api/v2/teams"),
    ("POST", "/api/v2/teams"),
    ("GET", "/api/v2/teams/{teamKey}"),
    ("PATCH", "/api/v2/teams/{teamKey}"),
    ("DELETE", "/api/v2/teams/{teamKey}"),
    ("POST", "/api/v2/teams/{teamKey}/members"),
    ("GET", "/api/v2/tokens"),
    ("POST", "/api/v2/tokens"),
    ("GET", "/api/v2/tokens/{id}"),
    ("PATCH", "/api/v2/tokens/{id}"),
    ("DELETE", "/api/v2/tokens/{id}"),
    ("POST", "/api/v2/tokens/{id}/reset"),
}


def _replace(path: str, value: object) -> launchdarkly_api.PatchOperation:
    return launchdarkly_api.PatchOperation(op="replace", path=path, value=value)


def _refused(call: object) -> int:
    """Run a call the server must refuse; returns its status."""
    assert callable(call)
    with pytest.raises(launchdarkly_api.ApiException) as info:
        call()
    return int(info.value.status)


def _drive_projects_and_environments(api: launchdarkly_api.ApiClient, project: str) -> None:
    projects, envs = ProjectsApi(api), EnvironmentsApi(api)
    env_post = launchdarkly_api.EnvironmentPost(key="staging", name="Staging", color="0000FF", tags=["qa"])
    created = projects.post_project(
        launchdarkly_api.ProjectPost(
            key=project,
            name="Conformance",
            tags=["a", "b"],
            default_client_side_availability=launchdarkly_api.DefaultClientSideAvailabilityPost(
                using_environment_id=True, using_mobile_key=False
            ),
            environments=[env_post],
        )
    )
    assert [e.key for e in created.environments] == ["staging"]
    default_envs = projects.post_project(launchdarkly_api.ProjectPost(key=f"{project}-d", name="Defaults"))
    assert {e.key for e in default_envs.environments} == {"production", "test"}
    listed = projects.get_projects(limit=1, filter=f"query:{project}", expand="environments")
    assert listed.total_count == 2
    assert projects.get_projects(filter="tags:a").items
    assert projects.get_project(project).environments is None
    assert projects.get_project(project, expand="environments").environments.total_count == 1
    patched = projects.patch_project(project, [_replace("/name", "Renamed"), _replace("/tags", ["c"])])
    assert (patched.name, patched.tags) == ("Renamed", ["c"])
    assert envs.get_environments_by_project(project, limit=1).total_count == 1
    new_env = envs.post_environment(project, launchdarkly_api.EnvironmentPost(key="qa", name="QA", color="00FF00"))
    assert new_env.approval_settings.min_num_approvals == 1
    assert envs.get_environment(project, "qa").id == new_env.id
    approvals = launchdarkly_api.PatchOperation(op="replace", path="/approvalSettings/required", value=True)
    assert envs.patch_environment(project, "qa", [approvals]).approval_settings.required is True
    assert envs.reset_environment_sdk_key(project, "qa").api_key != new_env.api_key
    assert envs.reset_environment_mobile_key(project, "qa").mobile_key != new_env.mobile_key
    envs.delete_environment(project, "qa")
    assert _refused(lambda: envs.get_environment(project, "qa")) == 404
    bad_settings = [_replace("/approvalSettings/minNumApprovals", 9)]
    assert _refused(lambda: envs.patch_environment(project, "staging", bad_settings)) == 400
    assert _refused(lambda: projects.post_project(launchdarkly_api.ProjectPost(key=project, name="x"))) == 409
    projects.delete_project(f"{project}-d")


def _drive_flags(api: launchdarkly_api.ApiClient, project: str) -> None:
    flags = FeatureFlagsApi(api)
    boolean = flags.post_feature_flag(project, launchdarkly_api.FeatureFlagBody(key="bool", name="Bool"))
    assert [v.value for v in boolean.variations] == [True, False]
    multi = flags.post_feature_flag(
        project,
        launchdarkly_api.FeatureFlagBody(
            key="multi",
            name="Multi",
            description="three strings",
            variations=[launchdarkly_api.Variation(value=v, name=v.upper()) for v in ("a", "b", "c")],
            defaults=launchdarkly_api.Defaults(on_variation=1, off_variation=2),
            tags=["t1"],
            temporary=False,
            client_side_availability=launchdarkly_api.ClientSideAvailabilityPost(
                using_environment_id=True, using_mobile_key=True
            ),
        ),
    )
    assert multi.environments["staging"].off_variation == 2
    summary = flags.get_feature_flags(project, summary=True, env="staging")
    assert summary.total_count == 2
    detailed = flags.get_feature_flags(project, summary=False, env="staging", limit=1, offset=1, sort="key")
    assert [f.key for f in detailed.items] == ["multi"]
    assert flags.get_feature_flags(project, filter="tags:t1,query:mul").total_count == 1
    assert flags.get_feature_flag(project, "multi", env="staging").environments["staging"].version == 1
    assert flags.get_feature_flag(project, "bool").kind == "boolean"
    duplicate = launchdarkly_api.FeatureFlagBody(key="bool", name="Again")
    assert _refused(lambda: flags.post_feature_flag(project, duplicate)) == 409
    flags.delete_feature_flag(project, "bool")
    assert _refused(lambda: flags.get_feature_flag(project, "bool")) == 404


def _drive_members_and_teams(api: launchdarkly_api.ApiClient) -> None:
    members, teams = AccountMembersApi(api), TeamsApi(api)
    email = accounts.unique_email("conf")
    form = launchdarkly_api.NewMemberForm(email=email, role="writer", first_name="Ada", last_name="L")
    (member,) = members.post_members([form]).items
    assert members.get_members(filter=f"query:{email}").total_count == 1
    assert members.get_members(limit=1).links["next"] is not None
    assert members.get_member(member.id).email == email
    assert members.patch_member(member.id, [_replace("/role", "reader")]).role == "reader"
    team_key = unique("team")
    post = launchdarkly_api.TeamPostInput(key=team_key, name="Team", member_ids=[member.id])
    team = teams.post_team(post)
    assert team.key == team_key
    assert teams.get_teams(filter=f"query:{team_key}").total_count == 1
    assert teams.get_team(team_key, expand="members").members.total_count == 1
    rename = launchdarkly_api.TeamPatchInput(instructions=[{"kind": "updateName", "value": "Renamed"}])
    assert teams.patch_team(team_key, rename).name == "Renamed"
    imported = teams.post_team_members(team_key, file=("members.csv", f"{email}\n".encode()))
    assert [i.status for i in imported.items] == ["success"]
    partial = teams.post_team_members_with_http_info(team_key, file=("m.csv", b"nobody@example.com\n"))
    assert partial.status_code == 207
    teams.delete_team(team_key)
    members.delete_member(member.id)
    assert _refused(lambda: members.get_member(member.id)) == 404


def _drive_tokens(api: launchdarkly_api.ApiClient) -> None:
    tokens = AccessTokensApi(api)
    created = tokens.post_token(launchdarkly_api.AccessTokenPost(name="conf", role="reader"))
    assert created.token.startswith("api-")
    assert tokens.get_token(created.id).token == created.token[-4:]
    assert created.id in {t.id for t in tokens.get_tokens(show_all=True, limit=100).items}
    patched = tokens.patch_token(created.id, [_replace("/name", "renamed"), _replace("/role", "writer")])
    assert (patched.name, patched.role) == ("renamed", "writer")
    reset = tokens.reset_token(created.id)
    assert reset.token.startswith("api-") and reset.token != created.token
    tokens.delete_token(created.id)
    assert _refused(lambda: tokens.get_token(created.id)) == 404


@pytest.fixture(scope="module")
def recorded(server: ServerProcess) -> Iterator[Recorder]:
    recorder = Recorder()
    project = unique("conf")
    with recorder.client(server.url, server.admin_token) as api:
        assert OtherApi(api).get_caller_identity().token_kind == "personal"
        _drive_projects_and_environments(api, project)
        _drive_flags(api, project)
        _drive_members_and_teams(api)
        _drive_tokens(api)
        ProjectsApi(api).delete_project(project)
    with recorder.client(server.url, "api-not-a-token") as anonymous:
        assert _refused(lambda: ProjectsApi(anonymous).get_projects()) == 401
    _drive_other_callers(server, recorder)
    yield recorder


def _drive_other_callers(server: ServerProcess, recorder: Recorder) -> None:
    """A reader's session (reads, and refusals) and a service token: the same documents, other callers."""
    with ldapi.client(server.url, server.admin_token) as admin:
        reader = accounts.account(admin, server.url, "reader")
        service = accounts.service_token(admin, "writer")
    with recorder.attach(accounts.session_client(server.url, reader.session)) as session:
        assert OtherApi(session).get_caller_identity().auth_kind == "session"
        assert ProjectsApi(session).get_projects(limit=1).items is not None
        assert AccountMembersApi(session).get_member(reader.id).role == "reader"
        refused = launchdarkly_api.ProjectPost(key=unique("refused"), name="x")
        assert _refused(lambda: ProjectsApi(session).post_project(refused)) == 403
        assert _refused(lambda: AccessTokensApi(session).get_token(str(service.id))) == 403
    with recorder.client(server.url, str(service.token)) as as_service:
        assert OtherApi(as_service).get_caller_identity().service_token is True
        assert AccessTokensApi(as_service).get_tokens().total_count == 0


def test_the_scenario_reaches_every_endpoint(recorded: Recorder) -> None:
    assert OPERATIONS - recorded.operations(load_spec().operation) == set()


def test_every_recorded_response_validates_against_the_spec(recorded: Recorder) -> None:
    spec = load_spec()
    problems = [
        problem
        for exchange in recorded.exchanges
        for problem in spec.problems(
            exchange.method, exchange.url, exchange.status, exchange.body, exchange.content_type
        )
    ]
    assert len(recorded.exchanges) > len(OPERATIONS)
    assert problems == [], "\n".join(problems)


def test_a_missing_spec_fails_loudly(monkeypatch: pytest.MonkeyPatch, tmp_path: object) -> None:
    monkeypatch.setenv(SPEC_ENV, "/nonexistent/launchdarkly-openapi.yaml")
    with pytest.raises(SpecUnavailable, match=SPEC_ENV):
        load_spec.__wrapped__()
    monkeypatch.delenv(SPEC_ENV)
    assert spec_path().is_file(), f"the reference spec must be present at {spec_path()}"


def test_the_validator_rejects_a_wrong_body() -> None:
    spec = load_spec()
    wrong = b'{"_id": 5, "key": "p"}'
    problems = spec.problems("GET", "/api/v2/projects/p", 200, wrong, "application/json")
    assert any("'_links' is a required property" in p for p in problems)
    assert any("5 is not of type 'string'" in p for p in problems)
    assert spec.problems("DELETE", "/api/v2/projects/p", 204, b"", None) == []
