"""Projects and environments through the official client: defaults, listing, JSON patch (approval
settings included), key resets, deletion, and flag configurations for new environments."""

from __future__ import annotations

import re
from collections.abc import Iterator

import launchdarkly_api
import pytest
from launchdarkly_api.api.environments_api import EnvironmentsApi
from launchdarkly_api.api.feature_flags_api import FeatureFlagsApi
from launchdarkly_api.api.projects_api import ProjectsApi

from tests.support import ldapi
from tests.support.accounts import unique
from tests.support.server import ServerProcess

OBJECT_ID = re.compile(r"^[0-9a-f]{24}$")
SDK_KEY = re.compile(r"^sdk-[A-Za-z0-9._-]+$")
MOBILE_KEY = re.compile(r"^mob-[A-Za-z0-9._-]+$")
LD_APPROVAL_DEFAULTS = {
    "required": False,
    "bypassApprovalsForPendingChanges": False,
    "minNumApprovals": 1,
    "canReviewOwnRequest": False,
    "canApplyDeclinedChanges": True,
    "serviceKind": "launchdarkly",
    "serviceConfig": {},
    "requiredApprovalTags": [],
}


@pytest.fixture(scope="module")
def api(server: ServerProcess) -> Iterator[launchdarkly_api.ApiClient]:
    with ldapi.client(server.url, server.admin_token) as api_client:
        yield api_client


def _error(call: object) -> tuple[int, str]:
    assert callable(call)
    with pytest.raises(launchdarkly_api.ApiException) as info:
        call()
    return int(info.value.status), str(info.value.body)


def _op(op: str, path: str, value: object = None) -> launchdarkly_api.PatchOperation:
    return launchdarkly_api.PatchOperation(op=op, path=path, value=value)


def _project(api: launchdarkly_api.ApiClient, **fields: object) -> launchdarkly_api.ProjectRep:
    key = str(fields.pop("key", unique("proj")))
    return ProjectsApi(api).post_project(launchdarkly_api.ProjectPost(key=key, name=f"Project {key}", **fields))


def test_a_project_without_environments_gets_production_and_test(api: launchdarkly_api.ApiClient) -> None:
    project = _project(api)
    assert OBJECT_ID.match(project.id)
    assert [(e.key, e.name, e.color) for e in project.environments] == [
        ("production", "Production", "417505"),
        ("test", "Test", "F5A623"),
    ]
    for env in project.environments:
        assert OBJECT_ID.match(env.id)  # the client-side ID
        assert SDK_KEY.match(env.api_key) and MOBILE_KEY.match(env.mobile_key)
        assert env.approval_settings.to_dict() == LD_APPROVAL_DEFAULTS
        assert (env.default_ttl, env.secure_mode, env.critical, env.tags) == (0, False, False, [])
    keys = [k for e in project.environments for k in (e.id, e.api_key, e.mobile_key)]
    assert len(set(keys)) == len(keys)
    assert project.include_in_snippet_by_default is False
    assert project.default_client_side_availability.to_dict() == {
        "usingMobileKey": True,
        "usingEnvironmentId": False,
    }


def test_a_project_with_environments_gets_exactly_those(api: launchdarkly_api.ApiClient) -> None:
    project = _project(
        api,
        tags=["team-a", "web"],
        default_client_side_availability=launchdarkly_api.DefaultClientSideAvailabilityPost(
            using_environment_id=True, using_mobile_key=False
        ),
        environments=[
            launchdarkly_api.EnvironmentPost(
                key="dev", name="Dev", color="00FF00", default_ttl=5, secure_mode=True, tags=["t"], critical=True
            )
        ],
    )
    (env,) = project.environments
    assert (env.key, env.name, env.color, env.default_ttl, env.secure_mode) == ("dev", "Dev", "00FF00", 5, True)
    assert (env.tags, env.critical) == (["t"], True)
    assert project.tags == ["team-a", "web"]
    assert project.include_in_snippet_by_default is True
    fetched = ProjectsApi(api).get_project(project.key, expand="environments")
    assert [e.key for e in fetched.environments.items] == ["dev"]
    assert fetched.environments.total_count == 1


def test_projects_are_listed_with_filters_pagination_and_expansion(api: launchdarkly_api.ApiClient) -> None:
    tag = unique("tag")
    keys = sorted(_project(api, key=unique("listed"), tags=[tag]).key for _ in range(3))
    projects = ProjectsApi(api)
    first = projects.get_projects(limit=2, filter=f"tags:{tag}")
    assert first.total_count == 3
    assert len(first.items) == 2
    assert all(p.environments is None for p in first.items)
    assert set(first.links) >= {"self", "first", "last", "next"}
    rest = projects.get_projects(limit=2, offset=2, filter=f"tags:{tag}")
    assert {p.key for p in first.items} | {p.key for p in rest.items} == set(keys)
    assert "prev" in rest.links and "next" not in rest.links
    expanded = projects.get_projects(filter=f"query:{keys[0]}", expand="environments")
    assert [p.key for p in expanded.items] == [keys[0]]
    assert {e.key for e in expanded.items[0].environments.items} == {"production", "test"}
    assert projects.get_projects(filter=f"tags:{tag}+nothing-has-this").total_count == 0
    by_name = [p.key for p in projects.get_projects(filter=f"tags:{tag}", sort="-name").items]
    assert by_name == sorted(keys, reverse=True)  # the names embed the keys
    by_age = [p.key for p in projects.get_projects(filter=f"tags:{tag}", sort="createdOn").items]
    assert sorted(by_age) == keys
    assert _error(lambda: projects.get_projects(sort="colour"))[0] == 400


def test_get_project_expands_environments_on_request(api: launchdarkly_api.ApiClient) -> None:
    project = _project(api)
    plain = ProjectsApi(api).get_project(project.key)
    assert (plain.key, plain.id, plain.environments) == (project.key, project.id, None)
    assert plain.links["self"].href == f"/api/v2/projects/{project.key}"
    status, body = _error(lambda: ProjectsApi(api).get_project(unique("missing")))
    assert status == 404 and '"not_found"' in body


def test_patch_project_name_tags_and_client_side_availability(api: launchdarkly_api.ApiClient) -> None:
    project = _project(api, tags=["old"])
    patched = ProjectsApi(api).patch_project(
        project.key,
        [
            _op("replace", "/name", "Renamed"),
            _op("add", "/tags/-", "new"),
            _op("replace", "/defaultClientSideAvailability", {"usingMobileKey": False, "usingEnvironmentId": True}),
        ],
    )
    assert (patched.name, patched.tags) == ("Renamed", ["old", "new"])
    assert patched.default_client_side_availability.using_environment_id is True
    assert patched.include_in_snippet_by_default is True
    assert {e.key for e in patched.environments} == {"production", "test"}
    again = ProjectsApi(api).get_project(project.key)
    assert (again.name, again.tags, again.default_client_side_availability.using_mobile_key) == (
        "Renamed",
        ["old", "new"],
        False,
    )


def test_patch_project_refuses_read_only_fields_and_failed_tests(api: launchdarkly_api.ApiClient) -> None:
    project = _project(api)
    projects = ProjectsApi(api)
    status, body = _error(lambda: projects.patch_project(project.key, [_op("replace", "/key", "other")]))
    assert status == 400 and "/key" in body
    status, body = _error(lambda: projects.patch_project(project.key, [_op("replace", "/name", 42)]))
    assert status == 400 and "name" in body
    failing = [_op("test", "/name", "not the name"), _op("replace", "/name", "Never")]
    status, body = _error(lambda: projects.patch_project(project.key, failing))
    assert status == 409 and '"optimistic_locking_error"' in body
    assert projects.get_project(project.key).name == project.name


def test_delete_project(api: launchdarkly_api.ApiClient) -> None:
    project = _project(api)
    ProjectsApi(api).delete_project(project.key)
    assert _error(lambda: ProjectsApi(api).get_project(project.key))[0] == 404
    assert _error(lambda: ProjectsApi(api).delete_project(project.key))[0] == 404
    assert _error(lambda: EnvironmentsApi(api).get_environment(project.key, "production"))[0] == 404


def test_create_project_validates_and_refuses_duplicates(api: launchdarkly_api.ApiClient) -> None:
    project = _project(api)
    projects = ProjectsApi(api)
    status, body = _error(lambda: projects.post_project(launchdarkly_api.ProjectPost(key=project.key, name="x")))
    assert status == 409 and '"conflict"' in body
    status, body = _error(lambda: projects.post_project(launchdarkly_api.ProjectPost(key="bad key!", name="x")))
    assert status == 400 and "key" in body
    twice = [launchdarkly_api.EnvironmentPost(key="a", name="A", color="000000")] * 2
    post = launchdarkly_api.ProjectPost(key=unique("dup-env"), name="x", environments=twice)
    assert _error(lambda: projects.post_project(post))[0] == 400


def test_environment_lifecycle(api: launchdarkly_api.ApiClient) -> None:
    project = _project(api)
    envs = EnvironmentsApi(api)
    listed = envs.get_environments_by_project(project.key)
    assert (listed.total_count, [e.key for e in listed.items]) == (2, ["production", "test"])
    post = launchdarkly_api.EnvironmentPost(
        key="staging", name="Staging", color="ABCDEF", default_ttl=10, confirm_changes=True, require_comments=True
    )
    created = envs.post_environment(project.key, post)
    assert (created.key, created.color, created.default_ttl) == ("staging", "ABCDEF", 10)
    assert (created.confirm_changes, created.require_comments) == (True, True)
    assert SDK_KEY.match(created.api_key) and OBJECT_ID.match(created.id)
    assert created.approval_settings.to_dict() == LD_APPROVAL_DEFAULTS
    assert created.links["self"].href == f"/api/v2/projects/{project.key}/environments/staging"
    assert envs.get_environment(project.key, "staging").to_dict() == created.to_dict()
    assert _error(lambda: envs.post_environment(project.key, post))[0] == 409
    paged = envs.get_environments_by_project(project.key, limit=1, offset=1)
    assert (paged.total_count, len(paged.items)) == (3, 1)
    envs.delete_environment(project.key, "staging")
    assert _error(lambda: envs.get_environment(project.key, "staging"))[0] == 404
    assert envs.get_environments_by_project(project.key).total_count == 2


def test_patch_environment_settings(api: launchdarkly_api.ApiClient) -> None:
    project = _project(api)
    envs = EnvironmentsApi(api)
    patched = envs.patch_environment(
        project.key,
        "test",
        [
            _op("replace", "/name", "QA"),
            _op("replace", "/color", "112233"),
            _op("replace", "/tags", ["qa"]),
            _op("replace", "/secureMode", True),
            _op("replace", "/approvalSettings/minNumApprovals", 3),
            _op("replace", "/approvalSettings/requiredApprovalTags", ["needs-review"]),
            _op("replace", "/approvalSettings/canReviewOwnRequest", True),
        ],
    )
    assert (patched.name, patched.color, patched.tags, patched.secure_mode) == ("QA", "112233", ["qa"], True)
    settings = patched.approval_settings
    assert (settings.min_num_approvals, settings.required_approval_tags) == (3, ["needs-review"])
    assert (settings.can_review_own_request, settings.required) == (True, False)
    assert envs.get_environment(project.key, "test").approval_settings.to_dict() == settings.to_dict()
    untouched = envs.get_environment(project.key, "production")
    assert untouched.approval_settings.to_dict() == LD_APPROVAL_DEFAULTS


@pytest.mark.parametrize(
    ("patch", "field"),
    [
        ([("/approvalSettings/minNumApprovals", 0)], "minNumApprovals"),
        ([("/approvalSettings/minNumApprovals", 6)], "minNumApprovals"),
        ([("/approvalSettings/minNumApprovals", "two")], "minNumApprovals"),
        (
            [("/approvalSettings/required", True), ("/approvalSettings/requiredApprovalTags", ["x"])],
            "requiredApprovalTags",
        ),
        ([("/approvalSettings/required", "yes")], "required"),
        ([("/color", "red")], "color"),
        ([("/name", "")], "name"),
        ([("/defaultTtl", -1)], "defaultTtl"),
    ],
)
def test_patch_environment_validates(
    api: launchdarkly_api.ApiClient, patch: list[tuple[str, object]], field: str
) -> None:
    project = _project(api)
    operations = [_op("replace", path, value) for path, value in patch]
    status, body = _error(lambda: EnvironmentsApi(api).patch_environment(project.key, "test", operations))
    assert status == 400, body
    assert '"invalid_request"' in body and field in body
    assert EnvironmentsApi(api).get_environment(project.key, "test").approval_settings.to_dict() == LD_APPROVAL_DEFAULTS


def test_patch_environment_refuses_keys_and_ids(api: launchdarkly_api.ApiClient) -> None:
    project = _project(api)
    for path in ("/key", "/apiKey", "/_id"):
        status, body = _error(
            lambda path=path: EnvironmentsApi(api).patch_environment(project.key, "test", [_op("replace", path, "x")])
        )
        assert status == 400, (path, body)


def test_reset_sdk_and_mobile_keys(api: launchdarkly_api.ApiClient) -> None:
    project = _project(api)
    envs = EnvironmentsApi(api)
    before = envs.get_environment(project.key, "production")
    sdk_reset = envs.reset_environment_sdk_key(project.key, "production")
    assert SDK_KEY.match(sdk_reset.api_key) and sdk_reset.api_key != before.api_key
    assert (sdk_reset.mobile_key, sdk_reset.id) == (before.mobile_key, before.id)
    mobile_reset = envs.reset_environment_mobile_key(project.key, "production")
    assert MOBILE_KEY.match(mobile_reset.mobile_key) and mobile_reset.mobile_key != before.mobile_key
    assert mobile_reset.api_key == sdk_reset.api_key
    assert envs.get_environment(project.key, "production").to_dict() == mobile_reset.to_dict()
    assert _error(lambda: envs.reset_environment_sdk_key(project.key, "nowhere"))[0] == 404


def test_a_new_environment_gives_existing_flags_a_configuration(api: launchdarkly_api.ApiClient) -> None:
    project = _project(api)
    flags = FeatureFlagsApi(api)
    body = launchdarkly_api.FeatureFlagBody(
        key="colour",
        name="Colour",
        variations=[launchdarkly_api.Variation(value=v) for v in ("red", "green", "blue")],
        defaults=launchdarkly_api.Defaults(on_variation=2, off_variation=1),
    )
    flags.post_feature_flag(project.key, body)
    EnvironmentsApi(api).post_environment(
        project.key, launchdarkly_api.EnvironmentPost(key="late", name="Late", color="999999")
    )
    flag = flags.get_feature_flag(project.key, "colour")
    assert set(flag.environments) == {"production", "test", "late"}
    config = flag.environments["late"]
    assert (config.on, config.off_variation, config.fallthrough.variation, config.version) == (False, 1, 2, 1)
    assert config.salt and config.salt != flag.environments["production"].salt
    assert (config.rules, config.targets, config.prerequisites) == ([], [], [])


def test_the_last_environment_cannot_be_deleted(api: launchdarkly_api.ApiClient) -> None:
    project = _project(api, environments=[launchdarkly_api.EnvironmentPost(key="only", name="Only", color="000000")])
    status, body = _error(lambda: EnvironmentsApi(api).delete_environment(project.key, "only"))
    assert status == 400 and "environment" in body
    assert EnvironmentsApi(api).get_environment(project.key, "only").key == "only"
