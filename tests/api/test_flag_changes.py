"""PATCH /api/v2/flags/{projectKey}/{featureFlagKey}: every semantic-patch instruction of LaunchDarkly's
reference, JSON patch (through the official client, and as a bare array), merge patch, read-only fields,
dry runs, versions and the audit entry each change writes. Every response is checked against
LaunchDarkly's OpenAPI document."""

from __future__ import annotations

import json
import re
from typing import Any

import httpx
import launchdarkly_api
import pytest
from launchdarkly_api.api.feature_flags_api import FeatureFlagsApi

from flagward.domain.instructions import ENVIRONMENT_INSTRUCTIONS, PROJECT_INSTRUCTIONS
from tests.support.accounts import unique
from tests.support.openapi import load_spec
from tests.support.server import ServerProcess

pytestmark = pytest.mark.usefixtures("conforms")

SEMANTIC = "application/json; domain-model=launchdarkly.semanticpatch"
FLAG_PATH = "/api/v2/flags/{projectKey}/{featureFlagKey}"


@pytest.fixture
def project(http: httpx.Client) -> str:
    key = unique("chg")
    assert http.post("/api/v2/projects", json={"key": key, "name": key}).status_code == 201
    return key


def create_flag(http: httpx.Client, project: str, key: str, **fields: Any) -> dict[str, Any]:
    response = http.post(f"/api/v2/flags/{project}", json={"key": key, "name": key, **fields})
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def get_flag(http: httpx.Client, project: str, key: str) -> dict[str, Any]:
    response = http.get(f"/api/v2/flags/{project}/{key}")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def semantic(
    http: httpx.Client,
    project: str,
    key: str,
    instructions: list[dict[str, Any]],
    env: str | None = "production",
    comment: str | None = None,
    **params: Any,
) -> httpx.Response:
    body: dict[str, Any] = {"instructions": instructions}
    if env is not None:
        body["environmentKey"] = env
    if comment is not None:
        body["comment"] = comment
    return http.patch(
        f"/api/v2/flags/{project}/{key}",
        content=json.dumps(body),
        headers={"Content-Type": SEMANTIC},
        params=params,
    )


def audit_for(http: httpx.Client, project: str, key: str, env: str = "*") -> list[dict[str, Any]]:
    response = http.get("/api/v2/auditlog", params={"spec": f"proj/{project}:env/{env}:flag/{key}", "limit": 20})
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


def variation_ids(flag: dict[str, Any]) -> dict[Any, str]:
    return {v["value"]: v["_id"] for v in flag["variations"]}


def error(response: httpx.Response, status: int, code: str) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["code"] == code, body
    message: str = body["message"]
    return message


def _versions(flag: dict[str, Any]) -> dict[str, int]:
    return {k: c["version"] for k, c in flag["environments"].items()}


class Walker:
    """Applies semantic patches one by one, checking every version rule after each."""

    def __init__(self, http: httpx.Client, project: str, key: str) -> None:
        self.http, self.project, self.key = http, project, key
        self.flag = get_flag(http, project, key)
        self.kinds: set[str] = set()

    def apply(
        self, *instructions: dict[str, Any], env: str | None = "production", bumps: tuple[str, ...] | None = None
    ) -> dict[str, Any]:
        """``bumps``: the environments whose configuration version must rise (default: ``env``'s)."""
        before = self.flag
        response = semantic(self.http, self.project, self.key, list(instructions), env=env)
        assert response.status_code == 200, (instructions, response.text)
        self.flag = response.json()
        self.kinds.update(i["kind"] for i in instructions)
        bumped = bumps if bumps is not None else ((env,) if env else ())
        assert self.flag["_version"] == before["_version"] + 1, instructions
        for env_key, version in _versions(self.flag).items():
            expected = _versions(before)[env_key] + (1 if env_key in bumped else 0)
            assert version == expected, (instructions, env_key)
            if env_key in bumped:
                assert (
                    self.flag["environments"][env_key]["lastModified"]
                    >= before["environments"][env_key]["lastModified"]
                )
        assert get_flag(self.http, self.project, self.key) == self.flag
        return self.flag

    @property
    def production(self) -> dict[str, Any]:
        config: dict[str, Any] = self.flag["environments"]["production"]
        return config


def reference_instruction_kinds() -> set[str]:
    """The instruction kinds LaunchDarkly's reference documents for PATCH flag (its ``#### kind`` headings)."""
    description = load_spec().document["paths"][FLAG_PATH]["patch"]["description"]
    return set(re.findall(r"#### (\w+)", description)) - {"Parameters"}


def _targeting_steps(walk: Walker, ids: dict[Any, str]) -> None:
    a, b, c = ids["a"], ids["b"], ids["c"]
    assert walk.apply({"kind": "turnFlagOn"})["environments"]["production"]["on"] is True
    assert walk.flag["environments"]["test"]["on"] is False
    assert walk.apply({"kind": "turnFlagOff"})["environments"]["production"]["on"] is False
    walk.apply(
        {"kind": "addTargets", "values": ["u1", "u2"], "variationId": a},
        {"kind": "addTargets", "contextKind": "org", "values": ["o1"], "variationId": b},
    )
    assert walk.production["targets"] == [{"contextKind": "user", "variation": 0, "values": ["u1", "u2"]}]
    assert {"contextKind": "org", "variation": 1, "values": ["o1"]} in walk.production["contextTargets"]
    walk.apply({"kind": "removeTargets", "values": ["u2"], "variationId": a})
    assert walk.production["targets"][0]["values"] == ["u1"]
    walk.apply({"kind": "addUserTargets", "values": ["u3"], "variationId": c})
    assert {"contextKind": "user", "variation": 2, "values": ["u3"]} in walk.production["targets"]
    walk.apply({"kind": "removeUserTargets", "values": ["u3"], "variationId": c})
    assert all(t["variation"] != 2 for t in walk.production["targets"])
    walk.apply(
        {
            "kind": "replaceTargets",
            "targets": [
                {"contextKind": "user", "variationId": b, "values": ["x"]},
                {"contextKind": "org", "variationId": a, "values": ["o2"]},
            ],
        }
    )
    assert walk.production["targets"] == [{"contextKind": "user", "variation": 1, "values": ["x"]}]
    assert [t for t in walk.production["contextTargets"] if t["values"]] == [
        {"contextKind": "org", "variation": 0, "values": ["o2"]}
    ]
    walk.apply(
        {
            "kind": "replaceUserTargets",
            "targets": [
                {"variationId": a, "values": []},
                {"variationId": b, "values": ["y"]},
                {"variationId": c, "values": []},
            ],
        }
    )
    assert walk.production["targets"] == [{"contextKind": "user", "variation": 1, "values": ["y"]}]
    walk.apply({"kind": "clearUserTargets", "variationId": b})
    assert walk.production["targets"] == []
    walk.apply({"kind": "clearTargets", "variationId": a})
    assert walk.production["contextTargets"] == []


def _rule_steps(walk: Walker, ids: dict[Any, str], segment: str) -> None:
    a, b, c = ids["a"], ids["b"], ids["c"]
    country = {"contextKind": "user", "attribute": "country", "op": "in", "values": ["SE"], "negate": False}
    walk.apply({"kind": "addRule", "clauses": [country], "variationId": b, "description": "nordics"})
    (rule1,) = walk.production["rules"]
    assert (rule1["variation"], rule1["description"], rule1["clauses"][0]["values"]) == (1, "nordics", ["SE"])
    r1, c1 = rule1["_id"], rule1["clauses"][0]["_id"]
    walk.apply(
        {
            "kind": "addRule",
            "beforeRuleId": r1,
            "clauses": [{"attribute": "segmentMatch", "op": "segmentMatch", "values": [segment]}],
            "rolloutWeights": {a: 30000, c: 70000},
            "rolloutContextKind": "user",
        }
    )
    assert [r["_id"] for r in walk.production["rules"]][1] == r1
    rule2 = walk.production["rules"][0]
    assert rule2["rollout"]["variations"] == [{"variation": 0, "weight": 30000}, {"variation": 2, "weight": 70000}]
    r2 = rule2["_id"]
    walk.apply({"kind": "reorderRules", "ruleIds": [r1, r2]})
    assert [r["_id"] for r in walk.production["rules"]] == [r1, r2]
    plan = {"contextKind": "user", "attribute": "plan", "op": "in", "values": ["pro"], "negate": False}
    walk.apply({"kind": "addClauses", "ruleId": r1, "clauses": [plan]})
    assert [cl["attribute"] for cl in walk.production["rules"][0]["clauses"]] == ["country", "plan"]
    c2 = walk.production["rules"][0]["clauses"][1]["_id"]
    walk.apply({"kind": "removeClauses", "ruleId": r1, "clauseIds": [c2]})
    assert len(walk.production["rules"][0]["clauses"]) == 1
    walk.apply({"kind": "updateClause", "ruleId": r1, "clauseId": c1, "clause": {**country, "values": ["NO"]}})
    assert walk.production["rules"][0]["clauses"][0] == {**country, "values": ["NO"], "_id": c1}
    walk.apply({"kind": "addValuesToClause", "ruleId": r1, "clauseId": c1, "values": ["DK"]})
    assert walk.production["rules"][0]["clauses"][0]["values"] == ["NO", "DK"]
    walk.apply({"kind": "removeValuesFromClause", "ruleId": r1, "clauseId": c1, "values": ["NO"]})
    assert walk.production["rules"][0]["clauses"][0]["values"] == ["DK"]
    walk.apply({"kind": "updateRuleVariationOrRollout", "ruleId": r1, "variationId": c})
    assert walk.production["rules"][0]["variation"] == 2
    walk.apply({"kind": "updateRuleDescription", "ruleId": r1, "description": "danes"})
    assert walk.production["rules"][0]["description"] == "danes"
    walk.apply({"kind": "updateRuleTrackEvents", "ruleId": r1, "trackEvents": True})
    assert walk.production["rules"][0]["trackEvents"] is True
    walk.apply({"kind": "removeRule", "ruleId": r2})
    assert [r["_id"] for r in walk.production["rules"]] == [r1]
    walk.apply({"kind": "replaceRules", "rules": [{"variationId": a, "clauses": [plan], "description": "pros"}]})
    assert [(r["description"], r["variation"]) for r in walk.production["rules"]] == [("pros", 0)]
    assert walk.production["rules"][0]["_id"] != r1


def _setting_steps(walk: Walker, ids: dict[Any, str], gate: dict[str, Any]) -> None:
    a, b, c = ids["a"], ids["b"], ids["c"]
    walk.apply({"kind": "updateFallthroughVariationOrRollout", "rolloutWeights": {a: 60000, b: 40000}})
    assert walk.production["fallthrough"]["rollout"]["variations"] == [
        {"variation": 0, "weight": 60000},
        {"variation": 1, "weight": 40000},
    ]
    walk.apply({"kind": "updateFallthroughVariationOrRollout", "variationId": c})
    assert walk.production["fallthrough"] == {"variation": 2}
    assert (
        walk.apply({"kind": "updateOffVariation", "variationId": b})["environments"]["production"]["offVariation"] == 1
    )
    walk.apply({"kind": "updateTrackEvents", "trackEvents": True})
    walk.apply({"kind": "updateTrackEventsFallthrough", "trackEvents": True})
    assert (walk.production["trackEvents"], walk.production["trackEventsFallthrough"]) == (True, True)
    on, off = variation_ids(gate)[True], variation_ids(gate)[False]
    walk.apply({"kind": "addPrerequisite", "key": gate["key"], "variationId": on})
    assert walk.production["prerequisites"] == [{"key": gate["key"], "variation": 0}]
    walk.apply({"kind": "updatePrerequisite", "key": gate["key"], "variationId": off})
    assert walk.production["prerequisites"] == [{"key": gate["key"], "variation": 1}]
    walk.apply({"kind": "removePrerequisite", "key": gate["key"]})
    assert walk.production["prerequisites"] == []
    walk.apply({"kind": "replacePrerequisites", "prerequisites": [{"key": gate["key"], "variationId": on}]})
    assert walk.production["prerequisites"] == [{"key": gate["key"], "variation": 0}]


def _flag_level_steps(walk: Walker, member_id: str, team_key: str) -> None:
    everywhere = ("production", "test")  # variations and archiving reach SDKs: every configuration moves
    walk.apply({"kind": "addVariation", "value": "d", "name": "D"}, env=None, bumps=everywhere)
    d = variation_ids(walk.flag)["d"]
    assert walk.flag["variations"][3] == {"_id": d, "value": "d", "name": "D"}
    walk.apply(
        {"kind": "updateVariation", "variationId": d, "name": "Delta", "value": "dd"}, env=None, bumps=everywhere
    )
    assert (walk.flag["variations"][3]["name"], walk.flag["variations"][3]["value"]) == ("Delta", "dd")
    walk.apply({"kind": "removeVariation", "variationId": d}, env=None, bumps=everywhere)
    assert [v["value"] for v in walk.flag["variations"]] == ["a", "b", "c"]
    walk.apply({"kind": "updateDefaultVariation", "onVariationValue": "b", "offVariationValue": "c"}, env=None)
    assert walk.flag["defaults"] == {"onVariation": 1, "offVariation": 2}
    assert walk.apply({"kind": "updateName", "value": "Walked"}, env=None)["name"] == "Walked"
    assert walk.apply({"kind": "updateDescription", "value": "every step"}, env=None)["description"] == "every step"
    assert walk.apply({"kind": "addTags", "values": ["x", "y"]}, env=None)["tags"] == ["x", "y"]
    assert walk.apply({"kind": "removeTags", "values": ["x"]}, env=None)["tags"] == ["y"]
    assert walk.apply({"kind": "makeFlagPermanent"}, env=None)["temporary"] is False
    assert walk.apply({"kind": "makeFlagTemporary"}, env=None)["temporary"] is True
    assert walk.apply({"kind": "updateMaintainerTeam", "value": team_key}, env=None)["maintainerTeamKey"] == team_key
    assert "maintainerId" not in walk.flag
    assert walk.apply({"kind": "updateMaintainerMember", "value": member_id}, env=None)["maintainerId"] == member_id
    walk.apply({"kind": "removeMaintainer"}, env=None)
    assert "maintainerId" not in walk.flag and "maintainerTeamKey" not in walk.flag
    walk.apply({"kind": "turnOnClientSideAvailability", "value": "usingEnvironmentId"}, env=None, bumps=everywhere)
    walk.apply({"kind": "turnOffClientSideAvailability", "value": "usingMobileKey"}, env=None, bumps=everywhere)
    assert walk.flag["clientSideAvailability"] == {"usingMobileKey": False, "usingEnvironmentId": True}
    assert walk.flag["includeInSnippet"] is True
    issues = {"kind": "addCustomProperties", "key": "jira", "name": "Jira", "values": ["A-1", "A-2"]}
    walk.apply(issues, env=None)
    assert walk.flag["customProperties"] == {"jira": {"name": "Jira", "value": ["A-1", "A-2"]}}
    walk.apply({"kind": "replaceCustomProperties", "key": "jira", "name": "Jira", "values": ["B-1"]}, env=None)
    assert walk.flag["customProperties"]["jira"]["value"] == ["B-1"]
    walk.apply({"kind": "removeCustomProperties", "key": "jira", "values": ["B-1"]}, env=None)
    assert walk.flag["customProperties"] == {}
    assert walk.apply({"kind": "deprecateFlag"}, env=None)["deprecated"] is True
    assert walk.apply({"kind": "restoreDeprecatedFlag"}, env=None)["deprecated"] is False
    assert walk.apply({"kind": "archiveFlag"}, env=None, bumps=everywhere)["archived"] is True
    assert walk.flag["environments"]["production"]["archived"] is True
    assert walk.apply({"kind": "restoreFlag"}, env=None, bumps=everywhere)["archived"] is False


def test_every_instruction_of_the_reference_applies(http: httpx.Client, project: str) -> None:
    variations = [{"value": v} for v in ("a", "b", "c")]
    flag = create_flag(http, project, "walk", variations=variations, defaults={"onVariation": 0, "offVariation": 2})
    gate = create_flag(http, project, "gate")
    segment = unique("beta")
    assert http.post(f"/api/v2/segments/{project}/production", json={"key": segment, "name": "Beta"}).status_code == 201
    member_id = http.get("/api/v2/caller-identity").json()["memberId"]
    team_key = unique("team")
    assert http.post("/api/v2/teams", json={"key": team_key, "name": "Team"}).status_code == 201
    walk = Walker(http, project, "walk")
    ids = variation_ids(flag)
    _targeting_steps(walk, ids)
    _rule_steps(walk, ids, segment)
    _setting_steps(walk, ids, gate)
    _flag_level_steps(walk, member_id, team_key)
    assert walk.flag["environments"]["test"]["version"] == flag["environments"]["test"]["version"] + 7
    response = semantic(http, project, "walk", [{"kind": "deleteFlag"}], env=None)
    assert response.status_code == 200, response.text
    assert response.json()["key"] == "walk"
    assert http.get(f"/api/v2/flags/{project}/walk").status_code == 404
    assert walk.kinds | {"deleteFlag"} == reference_instruction_kinds()
    assert walk.kinds == set(ENVIRONMENT_INSTRUCTIONS | PROJECT_INSTRUCTIONS)


def test_a_semantic_patch_is_all_or_nothing_and_names_the_failing_instruction(http: httpx.Client, project: str) -> None:
    flag = create_flag(http, project, "atomic")
    good = {"kind": "turnFlagOn"}
    bad = {"kind": "addTargets", "values": ["u"], "variationId": "not-a-variation"}
    message = error(semantic(http, project, "atomic", [good, bad]), 400, "invalid_request")
    assert message.startswith("instruction 1 (addTargets)") and "variationId" in message
    assert get_flag(http, project, "atomic") == flag
    assert [e["accesses"][0]["action"] for e in audit_for(http, project, "atomic")] == ["createFlag"]


@pytest.mark.parametrize(
    ("instructions", "env", "named"),
    [
        ([{"kind": "turnFlagOn"}, {"kind": "teleport"}], "production", "instruction 1 (teleport)"),
        ([{"kind": "turnFlagOn"}], None, "instruction 0 (turnFlagOn): environmentKey is required"),
        ([{"kind": "turnFlagOn"}], "nowhere", "instruction 0 (turnFlagOn): unknown environment 'nowhere'"),
        ([{"kind": "updateName", "value": " "}], None, "instruction 0 (updateName)"),
        ([{"kind": "addTags", "values": ["t"]}, {"kind": "deleteFlag"}], None, "instruction 1 (deleteFlag)"),
        (
            [
                {
                    "kind": "addRule",
                    "clauses": [{"attribute": "x", "op": "segmentMatch", "values": ["ghost"]}],
                    "variationId": "?",
                }
            ],
            "production",
            "instruction 0 (addRule)",
        ),
        ([], "production", "instructions"),
    ],
)
def test_invalid_semantic_patches_are_400(
    http: httpx.Client, project: str, instructions: list[dict[str, Any]], env: str | None, named: str
) -> None:
    flag = create_flag(http, project, "refused")
    message = error(semantic(http, project, "refused", instructions, env=env), 400, "invalid_request")
    assert named in message
    assert get_flag(http, project, "refused") == flag


def test_a_segment_match_must_name_a_segment_of_that_environment(http: httpx.Client, project: str) -> None:
    flag = create_flag(http, project, "segmented")
    segment = unique("seg")
    assert http.post(f"/api/v2/segments/{project}/test", json={"key": segment, "name": "S"}).status_code == 201
    clause = {"attribute": "segmentMatch", "op": "segmentMatch", "values": [segment]}
    rule = {"kind": "addRule", "clauses": [clause], "variationId": variation_ids(flag)[True]}
    message = error(semantic(http, project, "segmented", [rule], env="production"), 400, "invalid_request")
    assert f"segment '{segment}'" in message and "production" in message
    json_rule = {"clauses": [{**clause, "negate": False}], "variation": 0, "trackEvents": False}
    response = http.patch(
        f"/api/v2/flags/{project}/segmented",
        json=[{"op": "add", "path": "/environments/production/rules/-", "value": json_rule}],
    )
    assert f"segment '{segment}'" in error(response, 400, "invalid_request")
    added = semantic(http, project, "segmented", [rule], env="test")
    assert added.status_code == 200, added.text
    assert added.json()["environments"]["test"]["rules"][0]["clauses"][0]["values"] == [segment]


def test_json_patch_through_the_official_client(
    api: launchdarkly_api.ApiClient, http: httpx.Client, project: str
) -> None:
    created = create_flag(http, project, "jp")
    flags = FeatureFlagsApi(api)
    body = launchdarkly_api.PatchWithComment(
        comment="launch in production",
        patch=[
            launchdarkly_api.PatchOperation(op="test", path="/_version", value=created["_version"]),
            launchdarkly_api.PatchOperation(op="replace", path="/environments/production/on", value=True),
            launchdarkly_api.PatchOperation(
                op="add", path="/environments/production/targets/-", value={"variation": 0, "values": ["alice"]}
            ),
            launchdarkly_api.PatchOperation(op="replace", path="/description", value="patched"),
        ],
    )
    flag = flags.patch_feature_flag(project, "jp", body)
    production = flag.environments["production"]
    assert (production.on, production.version, flag.version, flag.description) == (
        True,
        created["environments"]["production"]["version"] + 1,
        created["_version"] + 1,
        "patched",
    )
    assert [(t.variation, t.values) for t in production.targets] == [(0, ["alice"])]
    assert flag.environments["test"].version == created["environments"]["test"]["version"]
    assert production.last_modified >= created["environments"]["production"]["lastModified"]
    (entry, *_) = audit_for(http, project, "jp", "production")
    assert entry["comment"] == "launch in production"
    assert {a["action"] for a in entry["accesses"]} >= {"updateOn", "updateTargets", "updateDescription"}
    add_target = [
        launchdarkly_api.PatchOperation(
            op="add", path="/environments/test/targets/-", value={"variation": 1, "values": ["bob"]}
        )
    ]
    flag = flags.patch_feature_flag(project, "jp", launchdarkly_api.PatchWithComment(patch=add_target))
    assert [(t.variation, t.values) for t in flag.environments["test"].targets] == [(1, ["bob"])]


def test_a_bare_json_patch_array_is_accepted(http: httpx.Client, project: str) -> None:
    create_flag(http, project, "bare")
    response = http.patch(
        f"/api/v2/flags/{project}/bare",
        json=[
            {"op": "replace", "path": "/environments/test/offVariation", "value": 0},
            {"op": "add", "path": "/tags/-", "value": "ops"},
        ],
    )
    assert response.status_code == 200, response.text
    flag = response.json()
    assert (flag["environments"]["test"]["offVariation"], flag["tags"]) == (0, ["ops"])


def test_a_failing_test_operation_is_an_optimistic_locking_error(
    api: launchdarkly_api.ApiClient, http: httpx.Client, project: str
) -> None:
    created = create_flag(http, project, "locked")
    semantic(http, project, "locked", [{"kind": "turnFlagOn"}])
    stale = [
        launchdarkly_api.PatchOperation(op="test", path="/_version", value=created["_version"]),
        launchdarkly_api.PatchOperation(op="replace", path="/name", value="lost update"),
    ]
    with pytest.raises(launchdarkly_api.ApiException) as info:
        FeatureFlagsApi(api).patch_feature_flag(project, "locked", launchdarkly_api.PatchWithComment(patch=stale))
    assert info.value.status == 409
    assert json.loads(str(info.value.body))["code"] == "optimistic_locking_error"
    assert get_flag(http, project, "locked")["name"] == "locked"
    env_test = [
        {
            "op": "test",
            "path": "/environments/production/version",
            "value": created["environments"]["production"]["version"],
        },
        {"op": "replace", "path": "/environments/production/on", "value": False},
    ]
    error(http.patch(f"/api/v2/flags/{project}/locked", json=env_test), 409, "optimistic_locking_error")
    assert get_flag(http, project, "locked")["environments"]["production"]["on"] is True


def test_merge_patch(http: httpx.Client, project: str) -> None:
    created = create_flag(http, project, "merged", tags=["old"])
    response = http.patch(
        f"/api/v2/flags/{project}/merged",
        json={
            "comment": "merge it",
            "merge": {"name": "Merged", "tags": ["new"], "environments": {"test": {"on": True}}},
        },
    )
    assert response.status_code == 200, response.text
    flag = response.json()
    assert (flag["name"], flag["tags"], flag["environments"]["test"]["on"]) == ("Merged", ["new"], True)
    assert flag["environments"]["test"]["version"] == created["environments"]["test"]["version"] + 1
    assert flag["environments"]["production"] == {
        **created["environments"]["production"],
        "_summary": flag["environments"]["production"]["_summary"],
    }
    (entry, *_) = audit_for(http, project, "merged", "test")
    assert entry["comment"] == "merge it"


@pytest.mark.parametrize(
    "body",
    [
        [{"op": "replace", "path": "/key", "value": "other"}],
        [{"op": "replace", "path": "/_version", "value": 99}],
        [{"op": "replace", "path": "/creationDate", "value": 1}],
        [{"op": "replace", "path": "/kind", "value": "multivariate"}],
        [{"op": "replace", "path": "/environments/production/version", "value": 99}],
        [{"op": "replace", "path": "/environments/production/lastModified", "value": 1}],
        [{"op": "replace", "path": "/environments/production/_site", "value": {}}],
        [{"op": "replace", "path": "/variations/0/_id", "value": "mine"}],
        [{"op": "remove", "path": "/environments/production"}],
        {"merge": {"key": "other"}},
        {"merge": {"_version": 5}},
        {"merge": {"environments": {"production": {"version": 7}}}},
    ],
)
def test_read_only_fields_are_refused(http: httpx.Client, project: str, body: Any) -> None:
    flag = create_flag(http, project, "ro")
    error(http.patch(f"/api/v2/flags/{project}/ro", json=body), 400, "invalid_request")
    assert get_flag(http, project, "ro") == flag


def test_dry_run_returns_the_flag_as_it_would_be_and_stores_nothing(http: httpx.Client, project: str) -> None:
    created = create_flag(http, project, "dry")
    response = semantic(http, project, "dry", [{"kind": "turnFlagOn"}], comment="try", dryRun="true")
    assert response.status_code == 200, response.text
    would_be = response.json()
    assert would_be["environments"]["production"]["on"] is True
    assert would_be["environments"]["production"]["version"] == created["environments"]["production"]["version"] + 1
    assert would_be["_version"] == created["_version"] + 1
    merged = http.patch(f"/api/v2/flags/{project}/dry", params={"dryRun": "true"}, json={"merge": {"name": "Wet"}})
    assert merged.status_code == 200 and merged.json()["name"] == "Wet"
    assert get_flag(http, project, "dry") == created
    assert [e["accesses"][0]["action"] for e in audit_for(http, project, "dry")] == ["createFlag"]
    invalid = semantic(http, project, "dry", [{"kind": "updateOffVariation", "variationId": "x"}], dryRun="true")
    assert "instruction 0" in error(invalid, 400, "invalid_request")


def test_a_no_op_patch_changes_no_version_and_writes_no_audit_entry(http: httpx.Client, project: str) -> None:
    created = create_flag(http, project, "noop")
    response = semantic(
        http,
        project,
        "noop",
        [
            {"kind": "turnFlagOff"},
            {"kind": "removeTargets", "values": ["x"], "variationId": variation_ids(created)[True]},
        ],
    )
    assert response.status_code == 200, response.text
    assert get_flag(http, project, "noop") == created
    assert len(audit_for(http, project, "noop")) == 1


def test_versions_and_the_audit_entry_of_a_change(http: httpx.Client, project: str) -> None:
    created = create_flag(http, project, "versioned")
    on = semantic(http, project, "versioned", [{"kind": "turnFlagOn"}], comment="go").json()
    assert _versions(on) == {**_versions(created), "production": _versions(created)["production"] + 1}
    assert on["environments"]["production"]["lastModified"] >= created["environments"]["production"]["lastModified"]
    renamed = semantic(http, project, "versioned", [{"kind": "updateName", "value": "V"}], env=None).json()
    assert _versions(renamed) == _versions(on) and renamed["_version"] == on["_version"] + 1
    entries = audit_for(http, project, "versioned")
    assert [e["accesses"][0]["action"] for e in entries] == ["updateName", "updateOn", "createFlag"]
    detail = http.get(f"/api/v2/auditlog/{entries[1]['_id']}").json()
    assert detail["comment"] == "go" and detail["kind"] == "flag" and detail["name"] == "versioned"
    assert detail["accesses"] == [{"action": "updateOn", "resource": f"proj/{project}:env/production:flag/versioned"}]
    assert detail["previousVersion"]["environments"]["production"]["on"] is False
    assert detail["currentVersion"]["environments"]["production"]["on"] is True
    assert detail["currentVersion"]["_version"] == on["_version"]
    assert detail["delta"] == {"environmentKey": "production", "instructions": [{"kind": "turnFlagOn"}]}
    assert detail["member"]["_id"] == http.get("/api/v2/caller-identity").json()["memberId"]


def test_readers_cannot_patch(server: ServerProcess, http: httpx.Client, project: str) -> None:
    create_flag(http, project, "guarded")
    token = http.post("/api/v2/tokens", json={"name": unique("reader"), "role": "reader"}).json()["token"]
    with httpx.Client(base_url=server.url, headers={"Authorization": token}) as reader:
        response = semantic(reader, project, "guarded", [{"kind": "turnFlagOn"}])
    error(response, 403, "forbidden")
    assert get_flag(http, project, "guarded")["environments"]["production"]["on"] is False


def test_unknown_flag_or_project_is_404(http: httpx.Client, project: str) -> None:
    error(semantic(http, project, unique("none"), [{"kind": "turnFlagOn"}]), 404, "not_found")
    error(http.patch(f"/api/v2/flags/{unique('none')}/x", json=[]), 404, "not_found")


@pytest.mark.parametrize("kind", ["json", "merge"])
def test_a_document_patch_may_not_remove_or_move_a_variation_another_flag_requires(
    http: httpx.Client, project: str, kind: str
) -> None:
    """A prerequisite names its flag's variation by index: removing that variation, or moving another
    into its place, would leave the other flag requiring nothing or another variation. The semantic
    ``removeVariation`` refuses it; so do JSON and merge patches, while a change that leaves the required
    variation where it was passes."""
    paint, door = f"paint-{kind}", f"door-{kind}"
    colors = [{"value": v} for v in ("red", "green", "blue")]
    created = create_flag(http, project, paint, variations=colors, defaults={"onVariation": 0, "offVariation": 0})
    create_flag(http, project, door)
    red, green, blue = created["variations"]
    add = [{"kind": "addPrerequisite", "key": paint, "variationId": blue["_id"]}]
    assert semantic(http, project, door, add).status_code == 200

    def patch(variations: list[dict[str, Any]]) -> httpx.Response:
        if kind == "json":
            body: Any = [{"op": "replace", "path": "/variations", "value": variations}]
        else:
            body = {"merge": {"variations": variations}}
        return http.patch(f"/api/v2/flags/{project}/{paint}", json=body)

    for variations in ([red, green], [blue, red, green]):
        refused = patch(variations)
        assert refused.status_code == 400, refused.text
        assert door in refused.json()["message"]
    assert get_flag(http, project, paint)["variations"] == created["variations"]
    kept = patch([green, red, {**blue, "name": "Blue"}])
    assert kept.status_code == 200, kept.text
