"""POST /api/v2/flags/{projectKey}/{featureFlagKey}/copy through the official client: what is copied for
each choice of actions, optimistic locking on either side, segments missing in the target, and the
audit entry. Every response is checked against LaunchDarkly's document."""

from __future__ import annotations

import json
from typing import Any

import httpx
import launchdarkly_api
import pytest
from launchdarkly_api.api.feature_flags_api import FeatureFlagsApi

from tests.support.accounts import unique
from tests.support.server import ServerProcess

pytestmark = pytest.mark.usefixtures("conforms")

SEMANTIC = "application/json; domain-model=launchdarkly.semanticpatch"
COPIED_FIELDS = ("on", "targets", "contextTargets", "rules", "fallthrough", "offVariation", "prerequisites")


@pytest.fixture
def project(http: httpx.Client) -> str:
    key = unique("copy")
    assert http.post("/api/v2/projects", json={"key": key, "name": key}).status_code == 201
    return key


def semantic(http: httpx.Client, project: str, key: str, env: str, *instructions: dict[str, Any]) -> dict[str, Any]:
    response = http.patch(
        f"/api/v2/flags/{project}/{key}",
        content=json.dumps({"environmentKey": env, "instructions": list(instructions)}),
        headers={"Content-Type": SEMANTIC},
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def configured_flag(http: httpx.Client, project: str, key: str, segment: str | None = None) -> dict[str, Any]:
    """A three-variation flag whose production configuration differs from test's in every copied part."""
    variations = [{"value": v} for v in ("a", "b", "c")]
    flag = http.post(f"/api/v2/flags/{project}", json={"key": key, "name": key, "variations": variations}).json()
    gate = http.post(f"/api/v2/flags/{project}", json={"key": f"{key}-gate", "name": "gate"}).json()
    a, b, c = (v["_id"] for v in flag["variations"])
    clauses = [{"attribute": "country", "op": "in", "values": ["SE"]}]
    if segment:
        clauses.append({"attribute": "segmentMatch", "op": "segmentMatch", "values": [segment]})
    return semantic(
        http,
        project,
        key,
        "production",
        {"kind": "turnFlagOn"},
        {"kind": "addTargets", "values": ["u1"], "variationId": b},
        {"kind": "addTargets", "contextKind": "org", "values": ["o1"], "variationId": c},
        {"kind": "addRule", "clauses": clauses, "variationId": c, "description": "swedes"},
        {"kind": "updateFallthroughVariationOrRollout", "rolloutWeights": {a: 50000, b: 50000}},
        {"kind": "updateOffVariation", "variationId": a},
        {"kind": "addPrerequisite", "key": gate["key"], "variationId": gate["variations"][0]["_id"]},
    )


def copy(api: launchdarkly_api.ApiClient, project: str, key: str, **fields: Any) -> launchdarkly_api.FeatureFlag:
    source = fields.pop("source", launchdarkly_api.FlagCopyConfigEnvironment(key="production"))
    target = fields.pop("target", launchdarkly_api.FlagCopyConfigEnvironment(key="test"))
    body = launchdarkly_api.FlagCopyConfigPost(source=source, target=target, **fields)
    return FeatureFlagsApi(api).copy_feature_flag(project, key, body)


def refused(call: Any) -> tuple[int, dict[str, Any]]:
    with pytest.raises(launchdarkly_api.ApiException) as info:
        call()
    return int(info.value.status), json.loads(str(info.value.body))


def comparable(config: dict[str, Any]) -> dict[str, Any]:
    """The copied parts of a configuration, rule and clause ids aside (a copy gets new ones)."""

    def strip(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: strip(v) for k, v in value.items() if k != "_id"}
        if isinstance(value, list):
            return [strip(v) for v in value]
        return value

    return {name: strip(config.get(name)) for name in COPIED_FIELDS}


def get_flag(http: httpx.Client, project: str, key: str) -> dict[str, Any]:
    body: dict[str, Any] = http.get(f"/api/v2/flags/{project}/{key}").json()
    return body


def test_copy_everything(api: launchdarkly_api.ApiClient, http: httpx.Client, project: str) -> None:
    segment = unique("both")
    for env in ("production", "test"):
        assert http.post(f"/api/v2/segments/{project}/{env}", json={"key": segment, "name": "S"}).status_code == 201
    before = configured_flag(http, project, "full", segment)
    copied = copy(api, project, "full", comment="promote")
    as_json = get_flag(http, project, "full")
    assert copied.to_dict()["environments"]["test"]["version"] == as_json["environments"]["test"]["version"]
    production, test = as_json["environments"]["production"], as_json["environments"]["test"]
    assert comparable(test) == comparable(production)
    assert test["version"] == before["environments"]["test"]["version"] + 1
    assert production == before["environments"]["production"]
    assert as_json["_version"] == before["_version"] + 1
    assert copied.environments["test"].on is True and copied.environments["test"].rules[0].description == "swedes"
    entries = http.get("/api/v2/auditlog", params={"spec": f"proj/{project}:env/test:flag/full"}).json()["items"]
    entry = entries[0]
    assert entry["comment"] == "promote"
    actions = [a["action"] for a in entry["accesses"]]
    assert actions[0] == "copyFlagConfigTo"
    assert set(actions[1:]) == {
        "updateOn",
        "updateTargets",
        "updateRules",
        "updateFallthrough",
        "updateOffVariation",
        "updatePrerequisites",
    }
    assert {a["resource"] for a in entry["accesses"]} == {f"proj/{project}:env/test:flag/full"}
    detail = http.get(f"/api/v2/auditlog/{entry['_id']}").json()
    assert detail["delta"] == {"source": {"key": "production"}, "target": {"key": "test"}}
    assert detail["previousVersion"]["environments"]["test"]["on"] is False
    assert detail["currentVersion"]["environments"]["test"]["on"] is True


def test_included_actions_copy_only_those(api: launchdarkly_api.ApiClient, http: httpx.Client, project: str) -> None:
    before = configured_flag(http, project, "some")
    copy(api, project, "some", included_actions=["updateOn", "updateOffVariation"])
    test = get_flag(http, project, "some")["environments"]["test"]
    old = before["environments"]["test"]
    assert (test["on"], test["offVariation"]) == (True, 0)
    assert (test["targets"], test["rules"], test["fallthrough"], test["prerequisites"]) == (
        old["targets"],
        old["rules"],
        old["fallthrough"],
        old["prerequisites"],
    )


def test_excluded_actions_copy_the_rest(api: launchdarkly_api.ApiClient, http: httpx.Client, project: str) -> None:
    before = configured_flag(http, project, "rest")
    copy(api, project, "rest", excluded_actions=["updateOn", "updatePrerequisites"])
    after = get_flag(http, project, "rest")
    test, production = after["environments"]["test"], after["environments"]["production"]
    assert (test["on"], test["prerequisites"]) == (False, [])
    assert {k: v for k, v in comparable(test).items() if k not in ("on", "prerequisites")} == {
        k: v for k, v in comparable(production).items() if k not in ("on", "prerequisites")
    }
    assert before["environments"]["production"] == production


def test_both_action_lists_are_refused(api: launchdarkly_api.ApiClient, http: httpx.Client, project: str) -> None:
    before = configured_flag(http, project, "both")
    status, body = refused(
        lambda: copy(api, project, "both", included_actions=["updateOn"], excluded_actions=["updateRules"])
    )
    assert status == 400 and "includedActions" in body["message"] and "excludedActions" in body["message"]
    assert get_flag(http, project, "both") == before


@pytest.mark.parametrize("side", ["source", "target"])
def test_a_stale_current_version_on_either_side_is_409(
    api: launchdarkly_api.ApiClient, http: httpx.Client, project: str, side: str
) -> None:
    before = configured_flag(http, project, "stale")
    env = "production" if side == "source" else "test"
    actual = before["environments"][env]["version"]
    ends = {
        "source": launchdarkly_api.FlagCopyConfigEnvironment(key="production"),
        "target": launchdarkly_api.FlagCopyConfigEnvironment(key="test"),
    }
    ends[side] = launchdarkly_api.FlagCopyConfigEnvironment(key=env, current_version=actual + 1)
    status, body = refused(lambda: copy(api, project, "stale", **ends))
    assert (status, body["code"]) == (409, "optimistic_locking_error")
    assert get_flag(http, project, "stale") == before
    ends[side] = launchdarkly_api.FlagCopyConfigEnvironment(key=env, current_version=actual)
    assert copy(api, project, "stale", **ends).environments["test"].on is True


def test_rules_naming_a_segment_missing_in_the_target_fail(
    api: launchdarkly_api.ApiClient, http: httpx.Client, project: str
) -> None:
    segment = unique("prod-only")
    assert http.post(f"/api/v2/segments/{project}/production", json={"key": segment, "name": "P"}).status_code == 201
    before = configured_flag(http, project, "seg", segment)
    status, body = refused(lambda: copy(api, project, "seg"))
    assert status == 400 and f"'{segment}'" in body["message"]
    status, _ = refused(lambda: copy(api, project, "seg", included_actions=["updateRules"]))
    assert status == 400
    assert get_flag(http, project, "seg") == before
    copied = copy(api, project, "seg", excluded_actions=["updateRules"])
    assert copied.environments["test"].rules == [] and copied.environments["test"].on is True


def test_copying_an_identical_configuration_changes_nothing(
    api: launchdarkly_api.ApiClient, http: httpx.Client, project: str
) -> None:
    http.post(f"/api/v2/flags/{project}", json={"key": "same", "name": "same"})
    before = get_flag(http, project, "same")
    copied = copy(api, project, "same")
    assert copied.version == before["_version"]
    assert get_flag(http, project, "same") == before
    entries = http.get("/api/v2/auditlog", params={"spec": f"proj/{project}:env/*:flag/same"}).json()["items"]
    assert [e["accesses"][0]["action"] for e in entries] == ["createFlag"]


def test_invalid_copies(api: launchdarkly_api.ApiClient, http: httpx.Client, project: str) -> None:
    http.post(f"/api/v2/flags/{project}", json={"key": "bad", "name": "bad"})
    same = launchdarkly_api.FlagCopyConfigEnvironment(key="production")
    assert refused(lambda: copy(api, project, "bad", target=same))[0] == 400
    nowhere = launchdarkly_api.FlagCopyConfigEnvironment(key="nowhere")
    assert refused(lambda: copy(api, project, "bad", target=nowhere))[0] == 404
    assert refused(lambda: copy(api, project, unique("none")))[0] == 404
    response = http.post(
        f"/api/v2/flags/{project}/bad/copy",
        json={"source": {"key": "production"}, "target": {"key": "test"}, "includedActions": ["updateColour"]},
    )
    assert response.status_code == 400 and "updateColour" in response.json()["message"]


def test_readers_cannot_copy(server: ServerProcess, http: httpx.Client, project: str) -> None:
    before = configured_flag(http, project, "guarded")
    token = http.post("/api/v2/tokens", json={"name": unique("reader"), "role": "reader"}).json()["token"]
    with launchdarkly_api.ApiClient(
        launchdarkly_api.Configuration(host=server.url, api_key={"ApiKey": token})
    ) as reader:
        status, body = refused(lambda: copy(reader, project, "guarded"))
    assert (status, body["code"]) == (403, "forbidden")
    # LaunchDarkly's body, naming the action refused and the resource (the flag in the source environment)
    assert "'copyFlagConfigFrom'" in body["message"] and f"proj/{project}:env/production" in body["message"]
    assert get_flag(http, project, "guarded") == before
