"""Segments per environment through the official client (``SegmentsApi``) and plain HTTP: create, list,
get, semantic, JSON and merge patch, delete; LaunchDarkly's shapes, versions and audit entries; flags
whose rules use a segment keep it alive. Every response is checked against LaunchDarkly's document."""

from __future__ import annotations

import json
import re
from typing import Any

import httpx
import launchdarkly_api
import pytest
from launchdarkly_api.api.segments_api import SegmentsApi

from flagward.domain.segment_changes import SEGMENT_INSTRUCTION_KINDS
from tests.support.accounts import unique
from tests.support.openapi import load_spec
from tests.support.server import ServerProcess

pytestmark = pytest.mark.usefixtures("conforms")

SEMANTIC = "application/json; domain-model=launchdarkly.semanticpatch"
SEGMENT_PATH = "/api/v2/segments/{projectKey}/{environmentKey}/{segmentKey}"
BIG_SEGMENT_KINDS = {
    "addBigSegmentIncludedTargets",
    "removeBigSegmentIncludedTargets",
    "addBigSegmentExcludedTargets",
    "removeBigSegmentExcludedTargets",
    "processBigSegmentImport",
}


@pytest.fixture
def project(http: httpx.Client) -> str:
    key = unique("seg")
    assert http.post("/api/v2/projects", json={"key": key, "name": key}).status_code == 201
    return key


def post_segment(
    api: launchdarkly_api.ApiClient, project: str, key: str, env: str = "production", **fields: Any
) -> launchdarkly_api.UserSegment:
    body = launchdarkly_api.SegmentBody(key=key, name=str(fields.pop("name", key)), **fields)
    return SegmentsApi(api).post_segment(project, env, body)


def semantic(
    http: httpx.Client, project: str, key: str, instructions: list[Any], env: str = "production", **params: Any
) -> httpx.Response:
    return http.patch(
        f"/api/v2/segments/{project}/{env}/{key}",
        content=json.dumps({"instructions": instructions, "comment": "semantic"}),
        headers={"Content-Type": SEMANTIC},
        params=params,
    )


def get_segment(http: httpx.Client, project: str, key: str, env: str = "production") -> dict[str, Any]:
    response = http.get(f"/api/v2/segments/{project}/{env}/{key}")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def audit_actions(http: httpx.Client, project: str, key: str, env: str = "production") -> list[str]:
    response = http.get("/api/v2/auditlog", params={"spec": f"proj/{project}:env/{env}:segment/{key}", "limit": 20})
    assert response.status_code == 200, response.text
    return [",".join(a["action"] for a in e["accesses"]) for e in response.json()["items"]]


def error(response: httpx.Response, status: int, code: str) -> str:
    assert response.status_code == status, response.text
    assert response.json()["code"] == code, response.text
    message: str = response.json()["message"]
    return message


def refused(call: Any) -> tuple[int, dict[str, Any]]:
    with pytest.raises(launchdarkly_api.ApiException) as info:
        call()
    return int(info.value.status), json.loads(str(info.value.body))


def test_create_get_and_list(api: launchdarkly_api.ApiClient, http: httpx.Client, project: str) -> None:
    segments = SegmentsApi(api)
    created = post_segment(api, project, "beta", name="Beta", description="testers", tags=["qa"])
    assert (created.key, created.name, created.description, created.tags) == ("beta", "Beta", "testers", ["qa"])
    assert (created.version, created.deleted, created.unbounded) == (1, False, False)
    assert (created.included, created.excluded, created.rules) == ([], [], [])
    assert created.creation_date == created.last_modified_date > 0
    assert created.links["self"].href == f"/api/v2/segments/{project}/production/beta"
    fetched = segments.get_segment(project, "production", "beta")
    assert fetched.to_dict() == {**created.to_dict(), "_flags": []}
    post_segment(api, project, "alpha")
    post_segment(api, project, "beta", env="test", name="Other beta")  # keys are per environment
    listed = segments.get_segments(project, "production")
    assert (listed.total_count, [s.key for s in listed.items]) == (2, ["alpha", "beta"])
    assert [s.key for s in segments.get_segments(project, "production", filter="query:alp").items] == ["alpha"]
    page = segments.get_segments(project, "production", limit=1, offset=1)
    assert [s.key for s in page.items] == ["beta"] and page.total_count == 2
    assert segments.get_segment(project, "test", "beta").name == "Other beta"
    assert audit_actions(http, project, "beta") == ["createSegment"]


def test_create_refusals(api: launchdarkly_api.ApiClient, project: str) -> None:
    post_segment(api, project, "taken")
    assert refused(lambda: post_segment(api, project, "taken"))[0] == 409
    assert refused(lambda: post_segment(api, project, "bad key"))[0] == 400
    status, body = refused(lambda: post_segment(api, project, "big", unbounded=True))
    assert status == 400 and "unbounded" in body["message"]
    assert refused(lambda: post_segment(api, project, "x", env="nowhere"))[0] == 404
    assert refused(lambda: SegmentsApi(api).get_segment(project, "production", "ghost"))[0] == 404


def reference_segment_kinds() -> set[str]:
    description = load_spec().document["paths"][SEGMENT_PATH]["patch"]["description"]
    return set(re.findall(r"#### (\w+)", description)) - {"Parameters"}


class Walker:
    def __init__(self, http: httpx.Client, project: str, key: str) -> None:
        self.http, self.project, self.key = http, project, key
        self.segment = get_segment(http, project, key)
        self.kinds: set[str] = set()

    def apply(self, *instructions: dict[str, Any]) -> dict[str, Any]:
        before = self.segment
        response = semantic(self.http, self.project, self.key, list(instructions))
        assert response.status_code == 200, (instructions, response.text)
        self.segment = response.json()
        self.kinds.update(i["kind"] for i in instructions)
        assert self.segment["version"] == before["version"] + 1, instructions
        assert self.segment["lastModifiedDate"] >= before["lastModifiedDate"]
        assert {**get_segment(self.http, self.project, self.key), "_flags": None} == {**self.segment, "_flags": None}
        return self.segment


def test_every_instruction_of_the_reference_applies(
    http: httpx.Client, api: launchdarkly_api.ApiClient, project: str
) -> None:
    post_segment(api, project, "walk")
    post_segment(api, project, "inner")
    walk = Walker(http, project, "walk")
    walk.apply({"kind": "addIncludedTargets", "contextKind": "org", "values": ["o1", "o2"]})
    assert walk.segment["includedContexts"] == [{"contextKind": "org", "values": ["o1", "o2"]}]
    walk.apply({"kind": "removeIncludedTargets", "contextKind": "org", "values": ["o1"]})
    assert walk.segment["includedContexts"] == [{"contextKind": "org", "values": ["o2"]}]
    walk.apply({"kind": "addExcludedTargets", "contextKind": "org", "values": ["o3"]})
    walk.apply({"kind": "removeExcludedTargets", "contextKind": "org", "values": ["o3"]})
    assert walk.segment.get("excludedContexts", []) == []
    walk.apply({"kind": "addIncludedUsers", "values": ["u1", "u2"]})
    walk.apply({"kind": "removeIncludedUsers", "values": ["u2"]})
    walk.apply({"kind": "addExcludedUsers", "values": ["u3", "u4"]})
    walk.apply({"kind": "removeExcludedUsers", "values": ["u4"]})
    assert (walk.segment["included"], walk.segment["excluded"]) == (["u1"], ["u3"])
    email = {"contextKind": "user", "attribute": "email", "op": "endsWith", "values": [".edu"], "negate": False}
    walk.apply({"kind": "addRule", "clauses": [email], "description": "students"})
    (rule,) = walk.segment["rules"]
    r1, c1 = rule["_id"], rule["clauses"][0]["_id"]
    nested = {"attribute": "segmentMatch", "op": "segmentMatch", "values": ["inner"], "negate": False}
    walk.apply({"kind": "addRule", "clauses": [nested], "beforeRuleId": r1})
    r2 = walk.segment["rules"][0]["_id"]
    walk.apply({"kind": "reorderRules", "ruleIds": [r1, r2]})
    assert [r["_id"] for r in walk.segment["rules"]] == [r1, r2]
    plan = {"contextKind": "user", "attribute": "plan", "op": "in", "values": ["pro"], "negate": False}
    walk.apply({"kind": "addClauses", "ruleId": r1, "clauses": [plan]})
    c2 = walk.segment["rules"][0]["clauses"][1]["_id"]
    walk.apply({"kind": "removeClauses", "ruleId": r1, "clauseIds": [c2]})
    walk.apply({"kind": "updateClause", "ruleId": r1, "clauseId": c1, "clause": {**email, "values": [".org"]}})
    walk.apply({"kind": "addValuesToClause", "ruleId": r1, "clauseId": c1, "values": [".gov"]})
    walk.apply({"kind": "removeValuesFromClause", "ruleId": r1, "clauseId": c1, "values": [".org"]})
    assert walk.segment["rules"][0]["clauses"] == [{**email, "values": [".gov"], "_id": c1}]
    walk.apply(
        {"kind": "updateRuleRolloutAndContextKind", "ruleId": r1, "rolloutWeight": 25000, "rolloutContextKind": "user"}
    )
    assert (walk.segment["rules"][0]["weight"], walk.segment["rules"][0]["rolloutContextKind"]) == (25000, "user")
    walk.apply({"kind": "updateRuleDescription", "ruleId": r1, "description": "officials"})
    assert walk.segment["rules"][0]["description"] == "officials"
    walk.apply({"kind": "removeRule", "ruleId": r2})
    assert [r["_id"] for r in walk.segment["rules"]] == [r1]
    assert walk.apply({"kind": "updateName", "value": "Walked"})["name"] == "Walked"
    assert walk.apply({"kind": "updateDescription", "value": "all of it"})["description"] == "all of it"
    assert walk.apply({"kind": "addTags", "values": ["a", "b"]})["tags"] == ["a", "b"]
    assert walk.apply({"kind": "removeTags", "values": ["a"]})["tags"] == ["b"]
    assert walk.kinds == set(SEGMENT_INSTRUCTION_KINDS)
    assert reference_segment_kinds() - BIG_SEGMENT_KINDS <= walk.kinds  # updateDescription is flagward's extra
    actions = audit_actions(http, project, "walk")
    assert len(actions) == 20 and actions[0] == "updateTags" and "updateRules" in actions
    big = semantic(http, project, "walk", [{"kind": "addBigSegmentIncludedTargets", "values": ["x"]}])
    assert "big segments" in error(big, 400, "invalid_request")


def test_a_semantic_patch_is_all_or_nothing(http: httpx.Client, api: launchdarkly_api.ApiClient, project: str) -> None:
    post_segment(api, project, "atomic")
    before = get_segment(http, project, "atomic")
    response = semantic(
        http,
        project,
        "atomic",
        [{"kind": "addIncludedUsers", "values": ["a"]}, {"kind": "addExcludedUsers", "values": ["a"]}],
    )
    message = error(response, 400, "invalid_request")
    assert message.startswith("instruction 1 (addExcludedUsers)")
    assert get_segment(http, project, "atomic") == before
    ghost = {"attribute": "segmentMatch", "op": "segmentMatch", "values": ["ghost"], "negate": False}
    missing = semantic(http, project, "atomic", [{"kind": "addRule", "clauses": [ghost]}])
    assert "ghost" in error(missing, 400, "invalid_request")


def test_json_patch_through_the_official_client(
    api: launchdarkly_api.ApiClient, http: httpx.Client, project: str
) -> None:
    created = post_segment(api, project, "jp")
    segments = SegmentsApi(api)
    patch = launchdarkly_api.PatchWithComment(
        comment="add testers",
        patch=[
            launchdarkly_api.PatchOperation(op="test", path="/version", value=created.version),
            launchdarkly_api.PatchOperation(op="add", path="/included/-", value="alice"),
            launchdarkly_api.PatchOperation(op="replace", path="/name", value="Testers"),
            launchdarkly_api.PatchOperation(
                op="add",
                path="/rules/-",
                value={"clauses": [{"attribute": "country", "op": "in", "values": ["SE"], "negate": False}]},
            ),
        ],
    )
    patched = segments.patch_segment(project, "production", "jp", patch)
    assert (patched.name, patched.included, patched.version) == ("Testers", ["alice"], created.version + 1)
    assert len(patched.rules) == 1 and patched.rules[0].id and patched.rules[0].clauses[0].id
    stale = launchdarkly_api.PatchWithComment(
        patch=[
            launchdarkly_api.PatchOperation(op="test", path="/version", value=created.version),
            launchdarkly_api.PatchOperation(op="replace", path="/name", value="Lost"),
        ]
    )
    status, body = refused(lambda: segments.patch_segment(project, "production", "jp", stale))
    assert (status, body["code"]) == (409, "optimistic_locking_error")
    assert segments.get_segment(project, "production", "jp").name == "Testers"
    for read_only in ("/key", "/version", "/creationDate", "/salt"):
        op = launchdarkly_api.PatchOperation(op="replace", path=read_only, value="x")
        status, _ = refused(
            lambda op=op: segments.patch_segment(
                project, "production", "jp", launchdarkly_api.PatchWithComment(patch=[op])
            )
        )
        assert status == 400, read_only
    assert audit_actions(http, project, "jp") == ["updateName,updateIncluded,updateRules", "createSegment"]


def test_merge_patch_and_dry_run(http: httpx.Client, api: launchdarkly_api.ApiClient, project: str) -> None:
    post_segment(api, project, "merged")
    response = http.patch(f"/api/v2/segments/{project}/production/merged", json={"merge": {"excluded": ["bob"]}})
    assert response.status_code == 200, response.text
    assert (response.json()["excluded"], response.json()["version"]) == (["bob"], 2)
    dry = semantic(http, project, "merged", [{"kind": "addIncludedUsers", "values": ["eve"]}], dryRun="true")
    assert dry.status_code == 200 and dry.json()["included"] == ["eve"]
    stored = get_segment(http, project, "merged")
    assert (stored["included"], stored["version"]) == ([], 2)
    assert len(audit_actions(http, project, "merged")) == 2


def test_a_segment_used_by_a_flag_cannot_be_deleted(
    api: launchdarkly_api.ApiClient, http: httpx.Client, project: str
) -> None:
    segments = SegmentsApi(api)
    post_segment(api, project, "used")
    flag = http.post(f"/api/v2/flags/{project}", json={"key": "consumer", "name": "Consumer"}).json()
    clause = {"attribute": "segmentMatch", "op": "segmentMatch", "values": ["used"]}
    rule = {"kind": "addRule", "clauses": [clause], "variationId": flag["variations"][0]["_id"]}
    added = http.patch(
        f"/api/v2/flags/{project}/consumer",
        content=json.dumps({"environmentKey": "production", "instructions": [rule]}),
        headers={"Content-Type": SEMANTIC},
    )
    assert added.status_code == 200, added.text
    shown = segments.get_segment(project, "production", "used")
    assert [f.key for f in shown.flags] == ["consumer"]
    status, body = refused(lambda: segments.delete_segment(project, "production", "used"))
    assert status == 400 and "consumer" in body["message"]
    assert segments.get_segment(project, "production", "used").key == "used"
    rule_id = added.json()["environments"]["production"]["rules"][0]["_id"]
    removed = http.patch(
        f"/api/v2/flags/{project}/consumer",
        content=json.dumps(
            {"environmentKey": "production", "instructions": [{"kind": "removeRule", "ruleId": rule_id}]}
        ),
        headers={"Content-Type": SEMANTIC},
    )
    assert removed.status_code == 200, removed.text
    segments.delete_segment(project, "production", "used")
    assert refused(lambda: segments.get_segment(project, "production", "used"))[0] == 404
    assert audit_actions(http, project, "used")[0] == "deleteSegment"
    assert refused(lambda: segments.delete_segment(project, "production", "used"))[0] == 404


def test_a_segment_used_by_another_segment_cannot_be_deleted(
    api: launchdarkly_api.ApiClient, http: httpx.Client, project: str
) -> None:
    post_segment(api, project, "base")
    post_segment(api, project, "outer")
    nested = {"attribute": "segmentMatch", "op": "segmentMatch", "values": ["base"], "negate": False}
    assert semantic(http, project, "outer", [{"kind": "addRule", "clauses": [nested]}]).status_code == 200
    status, body = refused(lambda: SegmentsApi(api).delete_segment(project, "production", "base"))
    assert status == 400 and "outer" in body["message"]


def test_a_recreated_segment_keeps_increasing_versions(
    api: launchdarkly_api.ApiClient, http: httpx.Client, project: str
) -> None:
    post_segment(api, project, "phoenix")
    assert semantic(http, project, "phoenix", [{"kind": "addIncludedUsers", "values": ["a"]}]).json()["version"] == 2
    SegmentsApi(api).delete_segment(project, "production", "phoenix")
    again = post_segment(api, project, "phoenix")
    assert again.version > 2 and again.included == []


def test_readers_cannot_change_segments(
    server: ServerProcess, api: launchdarkly_api.ApiClient, http: httpx.Client, project: str
) -> None:
    post_segment(api, project, "guarded")
    token = http.post("/api/v2/tokens", json={"name": unique("reader"), "role": "reader"}).json()["token"]
    with httpx.Client(base_url=server.url, headers={"Authorization": token}) as reader:
        error(semantic(reader, project, "guarded", [{"kind": "addIncludedUsers", "values": ["a"]}]), 403, "forbidden")
        error(reader.delete(f"/api/v2/segments/{project}/production/guarded"), 403, "forbidden")
        error(reader.post(f"/api/v2/segments/{project}/production", json={"key": "r", "name": "r"}), 403, "forbidden")
        assert reader.get(f"/api/v2/segments/{project}/production/guarded").status_code == 200
    assert get_segment(http, project, "guarded")["version"] == 1
