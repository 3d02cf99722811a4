"""Feature flags through the official client: creation defaults, a configuration per environment,
listing (pagination, filters, sort, environments, summaries), reading and deleting."""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Iterator

import launchdarkly_api
import pytest
from launchdarkly_api.api.feature_flags_api import FeatureFlagsApi
from launchdarkly_api.api.other_api import OtherApi
from launchdarkly_api.api.projects_api import ProjectsApi

from tests.support import ldapi
from tests.support.accounts import unique
from tests.support.server import ServerProcess

DAY_MS = 24 * 3600 * 1000


@pytest.fixture(scope="module")
def api(server: ServerProcess) -> Iterator[launchdarkly_api.ApiClient]:
    with ldapi.client(server.url, server.admin_token) as api_client:
        yield api_client


@pytest.fixture
def project(api: launchdarkly_api.ApiClient) -> str:
    key = unique("flags")
    ProjectsApi(api).post_project(launchdarkly_api.ProjectPost(key=key, name=key))
    return key


def _error(call: object) -> tuple[int, str]:
    assert callable(call)
    with pytest.raises(launchdarkly_api.ApiException) as info:
        call()
    return int(info.value.status), str(info.value.body)


def _flag(api: launchdarkly_api.ApiClient, project: str, key: str, **fields: object) -> launchdarkly_api.FeatureFlag:
    body = launchdarkly_api.FeatureFlagBody(key=key, name=str(fields.pop("name", key)), **fields)
    return FeatureFlagsApi(api).post_feature_flag(project, body)


def test_a_flag_without_variations_is_boolean_with_ld_defaults(api: launchdarkly_api.ApiClient, project: str) -> None:
    before = int(time.time() * 1000)
    flag = _flag(api, project, "dark-mode", name="Dark mode")
    assert (flag.key, flag.name, flag.kind, flag.description) == ("dark-mode", "Dark mode", "boolean", "")
    assert [v.value for v in flag.variations] == [True, False]
    ids = [v.id for v in flag.variations]
    assert all(uuid.UUID(i).version == 4 for i in ids) and len(set(ids)) == 2
    assert (flag.defaults.on_variation, flag.defaults.off_variation) == (0, 1)
    assert (flag.temporary, flag.tags, flag.archived, flag.deprecated) == (True, [], False, False)
    assert flag.client_side_availability.to_dict() == {"usingMobileKey": True, "usingEnvironmentId": False}
    assert flag.include_in_snippet is False
    assert before - DAY_MS < flag.creation_date <= int(time.time() * 1000) + 1000  # milliseconds
    assert flag.maintainer_id == OtherApi(api).get_caller_identity().member_id
    assert flag.version == 1
    assert flag.links["self"].href == f"/api/v2/flags/{project}/dark-mode"


def test_every_environment_gets_a_configuration(api: launchdarkly_api.ApiClient, project: str) -> None:
    flag = _flag(api, project, "configured")
    other = _flag(api, project, "other")
    assert set(flag.environments) == {"production", "test"}
    salts = set()
    for env_key, config in flag.environments.items():
        assert (config.on, config.archived, config.version) == (False, False, 1)
        assert (config.off_variation, config.fallthrough.variation) == (1, 0)
        assert (config.targets, config.context_targets, config.rules, config.prerequisites) == ([], [], [], [])
        assert config.environment_name == env_key.capitalize()
        assert config.site.href == f"/{project}/{env_key}/features/configured"
        assert config.last_modified == flag.creation_date
        salts.update({config.salt, other.environments[env_key].salt})
    assert len(salts) == 4 and all(re.fullmatch(r"[0-9a-f]{32}", s) for s in salts)


def test_a_multivariate_flag_keeps_what_it_was_given(api: launchdarkly_api.ApiClient, project: str) -> None:
    maintainer = OtherApi(api).get_caller_identity().member_id
    flag = _flag(
        api,
        project,
        "tier",
        name="Tier",
        description="pricing tier",
        variations=[
            launchdarkly_api.Variation(value="free", name="Free", description="no charge"),
            launchdarkly_api.Variation(value="pro", name="Pro"),
            launchdarkly_api.Variation(value="team"),
        ],
        defaults=launchdarkly_api.Defaults(on_variation=1, off_variation=0),
        tags=["billing", "web"],
        temporary=False,
        client_side_availability=launchdarkly_api.ClientSideAvailabilityPost(
            using_environment_id=True, using_mobile_key=False
        ),
        maintainer_id=maintainer,
        is_flag_on=True,
    )
    assert (flag.kind, flag.description, flag.temporary, flag.tags) == (
        "multivariate",
        "pricing tier",
        False,
        ["billing", "web"],
    )
    assert [(v.value, v.name, v.description) for v in flag.variations] == [
        ("free", "Free", "no charge"),
        ("pro", "Pro", None),
        ("team", None, None),
    ]
    assert (flag.defaults.on_variation, flag.defaults.off_variation) == (1, 0)
    assert flag.client_side_availability.using_environment_id is True and flag.include_in_snippet is True
    assert flag.maintainer_id == maintainer
    production = flag.environments["production"]
    assert (production.on, production.off_variation, production.fallthrough.variation) == (True, 0, 1)
    fetched = FeatureFlagsApi(api).get_feature_flag(project, "tier")
    assert fetched.to_dict() == flag.to_dict()


def test_json_variations_of_any_type(api: launchdarkly_api.ApiClient, project: str) -> None:
    values = [{"a": 1}, [1, 2], 3.5, "text"]
    flag = _flag(api, project, "json", variations=[launchdarkly_api.Variation(value=v) for v in values])
    assert [v.value for v in flag.variations] == values
    assert (flag.defaults.on_variation, flag.defaults.off_variation) == (0, 3)


def test_a_flag_takes_the_projects_client_side_availability(api: launchdarkly_api.ApiClient) -> None:
    key = unique("csa")
    ProjectsApi(api).post_project(
        launchdarkly_api.ProjectPost(
            key=key,
            name=key,
            default_client_side_availability=launchdarkly_api.DefaultClientSideAvailabilityPost(
                using_environment_id=True, using_mobile_key=False
            ),
        )
    )
    flag = _flag(api, key, "inherits")
    assert flag.client_side_availability.to_dict() == {"usingMobileKey": False, "usingEnvironmentId": True}


def test_a_duplicate_key_is_409(api: launchdarkly_api.ApiClient, project: str) -> None:
    _flag(api, project, "once", name="First")
    status, body = _error(lambda: _flag(api, project, "once", name="Second"))
    assert status == 409 and '"conflict"' in body
    assert FeatureFlagsApi(api).get_feature_flag(project, "once").name == "First"


@pytest.mark.parametrize(
    ("fields", "named"),
    [
        ({"key": "bad key"}, "key"),
        ({"variations": [launchdarkly_api.Variation(value="same")] * 2}, "variations"),
        ({"variations": [launchdarkly_api.Variation(value="only")]}, "variations"),
        ({"defaults": launchdarkly_api.Defaults(on_variation=0, off_variation=5)}, "offVariation"),
        ({"maintainer_id": "000000000000000000000000"}, "maintainerId"),
        ({"name": ""}, "name"),
    ],
)
def test_create_flag_validates(
    api: launchdarkly_api.ApiClient, project: str, fields: dict[str, object], named: str
) -> None:
    fields = dict(fields)  # the parameter is shared by both stores' runs
    key = str(fields.pop("key", unique("invalid")))
    status, body = _error(lambda: _flag(api, project, key, **fields))
    assert status == 400 and '"invalid_request"' in body and named in body, body


def test_flags_of_an_unknown_project_are_404(api: launchdarkly_api.ApiClient) -> None:
    assert _error(lambda: FeatureFlagsApi(api).get_feature_flags(unique("none")))[0] == 404
    assert _error(lambda: _flag(api, unique("none"), "x"))[0] == 404
    assert _error(lambda: FeatureFlagsApi(api).get_feature_flag(unique("none"), "x"))[0] == 404


def test_the_list_is_paginated_by_20(api: launchdarkly_api.ApiClient, project: str) -> None:
    for i in range(23):
        _flag(api, project, f"f{i:02d}")
    flags = FeatureFlagsApi(api)
    first = flags.get_feature_flags(project)
    assert (first.total_count, len(first.items)) == (23, 20)
    assert first.links["next"].href.startswith(f"/api/v2/flags/{project}?")
    assert "offset=20" in first.links["next"].href and "limit=20" in first.links["next"].href
    assert "offset=20" in first.links["last"].href
    rest = flags.get_feature_flags(project, offset=20)
    assert [f.key for f in rest.items] == ["f20", "f21", "f22"]
    assert "next" not in rest.links and "offset=0" in rest.links["prev"].href
    window = flags.get_feature_flags(project, limit=5, offset=3, sort="key")
    assert [f.key for f in window.items] == ["f03", "f04", "f05", "f06", "f07"]


def test_the_list_filters_and_sorts(api: launchdarkly_api.ApiClient, project: str) -> None:
    _flag(api, project, "alpha", name="Zulu", tags=["a", "b"])
    _flag(api, project, "bravo", name="Yankee", tags=["b"])
    _flag(api, project, "charlie", name="X-ray", tags=[])
    flags = FeatureFlagsApi(api)

    def keys(**query: object) -> list[str]:
        return [f.key for f in flags.get_feature_flags(project, **query).items]

    assert keys(sort="key") == ["alpha", "bravo", "charlie"]
    assert keys(sort="-key") == ["charlie", "bravo", "alpha"]
    assert keys(sort="name") == ["charlie", "bravo", "alpha"]
    assert keys(sort="creationDate") == ["alpha", "bravo", "charlie"]
    assert keys(filter="query:rav") == ["bravo"]
    assert keys(filter="query:zul") == ["alpha"]  # names match too
    assert sorted(keys(filter="tags:b")) == ["alpha", "bravo"]
    assert keys(filter="tags:a+b") == ["alpha"]
    assert keys(tag="a") == ["alpha"]
    assert keys(filter="archived:true") == []
    assert sorted(keys(filter="archived:false")) == ["alpha", "bravo", "charlie"]
    assert _error(lambda: flags.get_feature_flags(project, sort="color"))[0] == 400
    assert _error(lambda: flags.get_feature_flags(project, filter="colour:red"))[0] == 400


def test_the_list_shows_environments_only_when_asked(api: launchdarkly_api.ApiClient, project: str) -> None:
    _flag(api, project, "envs")
    flags = FeatureFlagsApi(api)
    (plain,) = flags.get_feature_flags(project).items
    assert plain.environments is None  # API version 20240415: only when filtered by environment
    (one,) = flags.get_feature_flags(project, env="production").items
    assert set(one.environments) == {"production"}
    (filtered,) = flags.get_feature_flags(project, filter="filterEnv:test").items
    assert set(filtered.environments) == {"test"}
    summary = one.environments["production"]
    assert summary.rules is None and summary.targets is None  # summaries leave them out
    assert summary.summary.variations["0"].is_fallthrough is True
    assert summary.summary.variations["1"].is_off is True
    (full,) = flags.get_feature_flags(project, env="production", summary=False).items
    assert full.environments["production"].rules == []
    assert full.environments["production"].targets == []


def test_get_flag_limits_environments_with_env(api: launchdarkly_api.ApiClient, project: str) -> None:
    _flag(api, project, "single")
    flag = FeatureFlagsApi(api).get_feature_flag(project, "single", env="test")
    assert set(flag.environments) == {"test"}
    assert set(FeatureFlagsApi(api).get_feature_flag(project, "single").environments) == {"production", "test"}


def test_delete_flag(api: launchdarkly_api.ApiClient, project: str) -> None:
    _flag(api, project, "doomed")
    _flag(api, project, "kept")
    flags = FeatureFlagsApi(api)
    flags.delete_feature_flag(project, "doomed")
    assert _error(lambda: flags.get_feature_flag(project, "doomed"))[0] == 404
    assert [f.key for f in flags.get_feature_flags(project).items] == ["kept"]
    assert _error(lambda: flags.delete_feature_flag(project, "doomed"))[0] == 404
    again = _flag(api, project, "doomed")  # the key is free again
    assert again.key == "doomed"
