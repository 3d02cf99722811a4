"""Importing into an environment that requires approval, as a member whose custom role allows
``importFlags`` but not ``bypassRequiredApproval`` nor ``bypassRequiredSegmentApproval``: without
``asRequests`` the flag is refused with the gate's reason; with it, the flag is created off there and an
approval request carries the imported configuration verbatim (flagward's ``replaceFlagConfiguration``);
once approved and applied, SDKs are served exactly what an import with the bypass right serves (salt,
rule ids, rollout: the same buckets). Segments likewise where the environment's segments require
approval: refused item by item, or created empty (salt kept) with a ``replaceSegmentConfiguration``
request whose application gives the imported segment, every context in the same bucket (evaluated by
``ldclient`` on the SDK payloads before and after)."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import launchdarkly_api
import pytest
from launchdarkly_api.api.access_tokens_api import AccessTokensApi
from launchdarkly_api.api.account_members_api import AccountMembersApi
from launchdarkly_api.api.custom_roles_api import CustomRolesApi
from launchdarkly_api.models import AccessTokenPost, CustomRolePost, PatchOperation, StatementPost
from ldclient import Context as LdContext
from ldclient.impl.evaluator import Evaluator as LdEvaluator
from ldclient.impl.events.types import EventFactory
from ldclient.impl.model import FeatureFlag
from ldclient.impl.model import Segment as LdSegment

from flagward.http.deps import SESSION_COOKIE
from tests.support import accounts, ldapi
from tests.support.accounts import unique
from tests.support.server import ServerProcess

PAYLOAD: dict[str, Any] = {
    "flags": {
        "checkout": {
            "key": "checkout",
            "version": 9,
            "on": True,
            "salt": "salt-from-launchdarkly",
            "variations": ["old", "new"],
            "offVariation": 0,
            "fallthrough": {
                "rollout": {
                    "variations": [{"variation": 0, "weight": 25000}, {"variation": 1, "weight": 75000}],
                    "seed": 61,
                }
            },
            "rules": [
                {"id": "rule-1", "clauses": [{"attribute": "country", "op": "in", "values": ["fr"]}], "variation": 1}
            ],
            "targets": [{"values": ["alice"], "variation": 1}],
        },
    },
    "segments": {},
}
IMPORTER = [
    StatementPost(effect="allow", resources=["proj/*"], actions=["*"]),
    StatementPost(effect="allow", resources=["proj/*:env/*"], actions=["*"]),
    StatementPost(effect="allow", resources=["proj/*:env/*:flag/*"], actions=["*"]),
    StatementPost(effect="deny", resources=["proj/*:env/*:flag/*"], actions=["bypassRequiredApproval"]),
    StatementPost(effect="allow", resources=["proj/*:env/*:segment/*"], actions=["*"]),
    StatementPost(effect="deny", resources=["proj/*:env/*:segment/*"], actions=["bypassRequiredSegmentApproval"]),
]


@pytest.fixture(scope="module")
def api(server: ServerProcess) -> Iterator[launchdarkly_api.ApiClient]:
    with ldapi.client(server.url, server.admin_token) as api_client:
        yield api_client


@pytest.fixture(scope="module")
def admin(server: ServerProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, headers={"Authorization": server.admin_token}, timeout=30) as client:
        yield client


@pytest.fixture(scope="module")
def member(api: launchdarkly_api.ApiClient, server: ServerProcess) -> accounts.Account:
    """A reader whose custom role (made with /api/v2/roles) imports but may not bypass approval."""
    key = unique("importer")
    role = CustomRolesApi(api).post_custom_role(CustomRolePost(key=key, name=key, policy=IMPORTER))
    who = accounts.account(api, server.url, "reader")
    AccountMembersApi(api).patch_member(who.id, [PatchOperation(op="add", path="/customRoles/0", value=role.key)])
    return who


@pytest.fixture(scope="module")
def importer(api: launchdarkly_api.ApiClient, server: ServerProcess, member: accounts.Account) -> str:
    """A personal token of ``member`` with its custom role."""
    who = member
    role = CustomRolesApi(api).get_custom_role(next(r for r in AccountMembersApi(api).get_member(who.id).custom_roles))
    with accounts.session_client(server.url, who.session) as as_member:
        post = AccessTokenPost(name=unique("pat"), role="reader", customRoleIds=[role.id])
        token = AccessTokensApi(as_member).post_token(post).token
    assert token
    return str(token)


def _gated_project(admin: httpx.Client) -> str:
    project = unique("gated")
    assert admin.post("/api/v2/projects", json={"key": project, "name": project}).status_code == 201
    settings = {"environmentKey": "production", "resourceKind": "flag", "required": True, "minNumApprovals": 1}
    response = admin.patch(
        f"/api/v2/approval-requests/projects/{project}/settings", json=settings, headers={"LD-API-Version": "beta"}
    )
    assert response.status_code == 200, response.text
    return project


def _import(server: ServerProcess, token: str, project: str, **params: str) -> dict[str, Any]:
    response = httpx.post(
        f"{server.url}/api/v2/projects/{project}/import",
        params={"environmentKey": "production", **params},
        json=PAYLOAD,
        headers={"Authorization": token},
        timeout=30,
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _served(server: ServerProcess, admin: httpx.Client, project: str) -> dict[str, Any]:
    env = admin.get(f"/api/v2/projects/{project}/environments/production").json()
    payload = httpx.get(f"{server.url}/sdk/latest-all", headers={"Authorization": env["apiKey"]}).json()
    flag: dict[str, Any] = payload["flags"]["checkout"]
    return flag


def test_without_as_requests_the_gate_refuses_the_flag(
    server: ServerProcess, admin: httpx.Client, importer: str
) -> None:
    project = _gated_project(admin)
    body = _import(server, importer, project)
    assert body["refused"] == [
        {
            "item": "flags/checkout",
            "path": "flags.checkout",
            "reason": "Flag configuration updates require approval: action 'createFlag' not allowed",
        }
    ]
    assert body["requested"] == []
    assert admin.get(f"/api/v2/flags/{project}/checkout").status_code == 404


def test_as_requests_makes_a_request_whose_approval_serves_what_an_import_with_bypass_serves(
    server: ServerProcess, admin: httpx.Client, importer: str, member: accounts.Account
) -> None:
    project = _gated_project(admin)
    planned = _import(server, importer, project, asRequests="true", dryRun="true")
    assert planned["requested"] == [{"item": "flags/checkout", "environmentKey": "production", "requestId": None}]

    body = _import(server, importer, project, asRequests="true")
    assert body["refused"] == []
    assert [i["item"] for i in body["created"]] == ["flags/checkout"]
    [requested] = body["requested"]
    assert requested["item"] == "flags/checkout" and requested["environmentKey"] == "production"
    request_id = requested["requestId"]
    before = _served(server, admin, project)
    assert before["on"] is False and before["salt"] == "salt-from-launchdarkly"  # created off, its salt kept

    url = f"/api/v2/projects/{project}/flags/checkout/environments/production/approval-requests/{request_id}"
    request = admin.get(url).json()
    assert [i["kind"] for i in request["instructions"]] == ["replaceFlagConfiguration"]
    assert request["instructions"][0]["configuration"]["rules"][0]["_id"] == "rule-1"
    page = httpx.get(f"{server.url}/approvals/{request_id}", cookies={SESSION_COOKIE: member.session})
    assert page.status_code == 200  # the console tells reviewers what it does, in words
    assert "Replace the whole configuration with the imported one: targeting on" in page.text
    assert "salt &#39;salt-from-launchdarkly&#39; (rollout buckets kept)" in page.text
    assert admin.post(f"{url}/reviews", json={"kind": "approve"}).status_code == 200
    applied = admin.post(f"{url}/apply", json={})
    assert applied.status_code == 200, applied.text

    bypassed = unique("bypass")  # the admin may bypass: the same payload imported directly
    assert _import(server, server.admin_token, bypassed)["created"][-1]["item"] == "flags/checkout"
    after, direct = _served(server, admin, project), _served(server, admin, bypassed)
    assert after["version"] == 10 and direct["version"] == 9
    after.pop("version"), direct.pop("version")
    assert after == direct
    assert (after["salt"], after["rules"][0]["id"], after["fallthrough"]["rollout"]["seed"]) == (
        "salt-from-launchdarkly",
        "rule-1",
        61,
    )


def test_an_update_of_a_gated_configuration_becomes_a_request_and_the_cli_does_the_same(
    server: ServerProcess, admin: httpx.Client, importer: str, member: accounts.Account, tmp_path: Path
) -> None:
    project = _gated_project(admin)
    assert _import(server, server.admin_token, project)["created"][-1]["item"] == "flags/checkout"
    stored = _served(server, admin, project)
    payload = copy.deepcopy(PAYLOAD)
    payload["flags"]["checkout"]["targets"] = [{"values": ["alice", "bob"], "variation": 1}]
    response = httpx.post(
        f"{server.url}/api/v2/projects/{project}/import",
        params={"environmentKey": "production", "update": "true"},
        json=payload,
        headers={"Authorization": importer},
    )
    assert response.json()["refused"][0]["reason"].startswith("Flag configuration updates require approval")
    source = tmp_path / "production.json"
    source.write_text(json.dumps(payload))
    args = ["import", "--project", project, "--environment", "production", str(source), "--update", "--as-requests"]
    args += ["--json", "--database-url", server.database_url, "--as", member.email]
    done = subprocess.run(
        [sys.executable, "-m", "flagward", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    body = json.loads(done.stdout)
    assert body["unchanged"] == [{"item": "flags/checkout", "detail": "approval requested in production"}]
    [requested] = body["requested"]
    assert _served(server, admin, project) == stored  # nothing changes until the request is applied
    url = (
        f"/api/v2/projects/{project}/flags/checkout/environments/production/approval-requests/{requested['requestId']}"
    )
    request = admin.get(url).json()
    assert request["requestorId"] == member.id
    assert request["instructions"][0]["configuration"]["targets"][0]["values"] == ["alice", "bob"]


# -- segments --------------------------------------------------------------------------------------

SEGMENT_PAYLOAD: dict[str, Any] = {
    "segments": {
        "beta": {
            "key": "beta",
            "version": 4,
            "salt": "segment-salt-from-launchdarkly",
            "included": ["alice"],
            "excluded": ["mallory"],
            "includedContexts": [{"contextKind": "org", "values": ["acme"]}],
            "rules": [
                {
                    "id": "seg-rule",
                    "clauses": [{"attribute": "plan", "op": "in", "values": ["pro"], "negate": False}],
                    "weight": 50000,
                    "bucketBy": "email",
                    "rolloutContextKind": "user",
                }
            ],
        },
    },
    "flags": {
        "beta-access": {
            "key": "beta-access",
            "version": 3,
            "on": True,
            "salt": "flag-salt",
            "variations": [False, True],
            "offVariation": 0,
            "fallthrough": {"variation": 0},
            "rules": [
                {
                    "id": "in-beta",
                    "clauses": [{"attribute": "", "op": "segmentMatch", "values": ["beta"], "negate": False}],
                    "variation": 1,
                }
            ],
        },
    },
}
CONTEXTS = [
    {
        "kind": "multi",
        "user": {"key": f"user-{i}", "email": f"u{i}@example.com", "plan": ["free", "pro"][i % 2]},
        "org": {"key": ["acme", "globex"][i % 7 == 0]},
    }
    for i in range(300)
] + [{"key": "alice"}, {"key": "mallory", "plan": "pro", "email": "m@example.com"}]


def _segment_gated_project(admin: httpx.Client) -> str:
    """A project whose production segments require approval (its flags do not)."""
    project = unique("seggated")
    assert admin.post("/api/v2/projects", json={"key": project, "name": project}).status_code == 201
    settings = {"environmentKey": "production", "resourceKind": "segment", "required": True, "minNumApprovals": 1}
    response = admin.patch(
        f"/api/v2/approval-requests/projects/{project}/settings", json=settings, headers={"LD-API-Version": "beta"}
    )
    assert response.status_code == 200, response.text
    return project


def _import_segments(
    server: ServerProcess, token: str, project: str, payload: dict[str, Any], **params: str
) -> dict[str, Any]:
    response = httpx.post(
        f"{server.url}/api/v2/projects/{project}/import",
        params={"environmentKey": "production", **params},
        json=payload,
        headers={"Authorization": token},
        timeout=30,
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _sdk_payload(server: ServerProcess, admin: httpx.Client, project: str) -> dict[str, Any]:
    env = admin.get(f"/api/v2/projects/{project}/environments/production").json()
    payload: dict[str, Any] = httpx.get(f"{server.url}/sdk/latest-all", headers={"Authorization": env["apiKey"]}).json()
    return payload


def _evaluations(payload: dict[str, Any]) -> list[tuple[Any, str]]:
    """``beta-access`` for every context, by LaunchDarkly's own evaluator (``ldclient``) on ``payload``."""
    flag = FeatureFlag(payload["flags"]["beta-access"])
    segments = {k: LdSegment(s) for k, s in payload["segments"].items()}
    no_big_segments: Any = None
    evaluator = LdEvaluator(lambda key: None, segments.get, no_big_segments)
    results = []
    for raw in CONTEXTS:
        detail = evaluator.evaluate(flag, LdContext.from_dict(raw), EventFactory(False)).detail
        results.append((detail.variation_index, json.dumps(detail.reason, sort_keys=True)))
    return results


def test_without_as_requests_the_gate_refuses_segments_item_by_item(
    server: ServerProcess, admin: httpx.Client, importer: str
) -> None:
    project = _segment_gated_project(admin)
    reason = "segment changes in environment 'production' require approval"
    body = _import_segments(server, importer, project, SEGMENT_PAYLOAD)
    assert body["refused"][0] == {"item": "segments/beta", "path": "segments.beta", "reason": reason}
    assert body["requested"] == []
    assert admin.get(f"/api/v2/segments/{project}/production/beta").status_code == 404
    # the flag naming it is refused on its own, with its path; an empty segment needs no approval
    assert [r["path"] for r in body["refused"]] == ["segments.beta", "flags.beta-access.rules[0].clauses[0].values[0]"]
    empty = {"segments": {"quiet": {"key": "quiet", "version": 1, "salt": "s"}}, "flags": {}}
    assert [c["item"] for c in _import_segments(server, importer, project, empty)["created"]] == ["segments/quiet"]

    assert _import_segments(server, server.admin_token, project, SEGMENT_PAYLOAD)["refused"] == []  # may bypass
    changed = copy.deepcopy(SEGMENT_PAYLOAD)
    changed["segments"]["beta"]["included"] = ["alice", "bob"]
    body = _import_segments(server, importer, project, changed, update="true")
    assert body["refused"] == [{"item": "segments/beta", "path": "segments.beta", "reason": reason}]
    salted = copy.deepcopy(SEGMENT_PAYLOAD)
    salted["segments"]["beta"]["salt"] = "another-salt"  # a new salt moves every weighted bucket
    body = _import_segments(server, importer, project, salted, update="true")
    assert body["refused"] == [{"item": "segments/beta", "path": "segments.beta", "reason": reason}]
    stored = admin.get(f"/api/v2/segments/{project}/production/beta").json()
    assert (stored["included"], stored["salt"]) == (["alice"], "segment-salt-from-launchdarkly")


def test_as_requests_makes_a_segment_request_whose_approval_keeps_every_bucket(
    server: ServerProcess, admin: httpx.Client, importer: str, member: accounts.Account
) -> None:
    project = _segment_gated_project(admin)
    planned = _import_segments(server, importer, project, SEGMENT_PAYLOAD, asRequests="true", dryRun="true")
    assert planned["requested"] == [{"item": "segments/beta", "environmentKey": "production", "requestId": None}]
    assert planned["refused"] == []
    assert admin.get(f"/api/v2/segments/{project}/production/beta").status_code == 404

    body = _import_segments(server, importer, project, SEGMENT_PAYLOAD, asRequests="true")
    assert body["refused"] == []
    assert [i["item"] for i in body["created"]] == ["segments/beta", "flags/beta-access"]
    assert body["created"][0]["detail"] == "version 4; approval requested in production"
    [requested] = body["requested"]
    assert (requested["item"], requested["environmentKey"]) == ("segments/beta", "production")
    served = _sdk_payload(server, admin, project)["segments"]["beta"]
    assert (served["salt"], served["version"], served["included"], served["rules"]) == (
        "segment-salt-from-launchdarkly",
        4,
        [],
        [],
    )  # created empty until approved, its salt kept

    url = f"/api/v2/approval-requests/{requested['requestId']}"
    request = admin.get(url).json()
    assert request["resourceId"] == f"proj/{project}:env/production:segment/beta"
    [instruction] = request["instructions"]
    assert instruction["kind"] == "replaceSegmentConfiguration"
    assert instruction["configuration"]["rules"][0]["_id"] == "seg-rule"
    assert instruction["configuration"]["salt"] == "segment-salt-from-launchdarkly"
    page = httpx.get(f"{server.url}/approvals/{requested['requestId']}", cookies={SESSION_COOKIE: member.session})
    assert page.status_code == 200  # the console tells reviewers what it does, in words
    assert "Replace the segment&#39;s targets and rules with the imported ones: include alice" in page.text
    assert "50% of them by email; salt &#39;segment-salt-from-launchdarkly&#39; (rollout buckets kept)" in page.text
    # conflicts like flags': another pending request on the segment's targeting overlaps the import
    other = admin.post(
        "/api/v2/approval-requests",
        json={
            "resourceId": request["resourceId"],
            "description": "Add Bob",
            "instructions": [{"kind": "addIncludedTargets", "contextKind": "user", "values": ["bob"]}],
        },
    )
    assert other.status_code == 201, other.text
    assert any("Add Bob" in c["reason"] for c in admin.get(url).json()["conflicts"])
    assert admin.delete(f"/api/v2/approval-requests/{other.json()['_id']}").status_code == 204

    assert admin.post(f"{url}/reviews", json={"kind": "approve"}).status_code == 200
    applied = admin.post(f"{url}/apply", json={})
    assert applied.status_code == 200, applied.text

    bypassed = unique("bypass")  # the admin may bypass: the same payload imported directly
    assert _import_segments(server, server.admin_token, bypassed, SEGMENT_PAYLOAD)["refused"] == []
    after, direct = _sdk_payload(server, admin, project), _sdk_payload(server, admin, bypassed)
    segment, direct_segment = dict(after["segments"]["beta"]), dict(direct["segments"]["beta"])
    assert (segment.pop("version"), direct_segment.pop("version")) == (5, 4)
    assert segment == direct_segment
    assert segment["salt"] == "segment-salt-from-launchdarkly"
    expected = _evaluations(SEGMENT_PAYLOAD)  # as LaunchDarkly evaluates its own payload
    variations = [variation for variation, _ in expected]
    assert 0 < variations.count(1) < len(variations)  # the weighted rule splits the contexts
    assert _evaluations(after) == expected
    assert _evaluations(direct) == expected


def test_an_update_of_a_gated_segment_becomes_a_request(
    server: ServerProcess, admin: httpx.Client, importer: str
) -> None:
    project = _segment_gated_project(admin)
    assert _import_segments(server, server.admin_token, project, SEGMENT_PAYLOAD)["refused"] == []
    before = _sdk_payload(server, admin, project)
    changed = copy.deepcopy(SEGMENT_PAYLOAD)
    changed["segments"]["beta"].update(included=["alice", "bob"], salt="a-new-salt")
    refused = _import_segments(server, importer, project, changed, asRequests="true")  # without --update
    assert refused["refused"][0]["reason"] == "segment 'beta' exists in 'production' and differs; --update replaces it"
    body = _import_segments(server, importer, project, changed, asRequests="true", update="true")
    assert body["refused"] == []
    assert {"item": "segments/beta", "detail": "approval requested in production"} in body["unchanged"]
    [requested] = body["requested"]
    assert _sdk_payload(server, admin, project) == before  # nothing changes until the request is applied
    url = f"/api/v2/approval-requests/{requested['requestId']}"
    assert admin.post(f"{url}/reviews", json={"kind": "approve"}).status_code == 200
    assert admin.post(f"{url}/apply", json={}).status_code == 200
    segment = _sdk_payload(server, admin, project)["segments"]["beta"]
    assert (segment["included"], segment["salt"], segment["version"]) == (["alice", "bob"], "a-new-salt", 5)
