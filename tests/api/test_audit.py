"""The audit log through the official client (``AuditLogApi``): every change writes an entry in
LaunchDarkly's ``AuditLogEntryRep`` shape; listing filters by ``spec``, ``q``, ``before`` and ``after``
and pages without skipping or repeating entries; no API changes or deletes an entry. Every response is
checked against LaunchDarkly's document."""

from __future__ import annotations

import json
from typing import Any

import httpx
import launchdarkly_api
import pytest
from launchdarkly_api.api.audit_log_api import AuditLogApi
from launchdarkly_api.api.feature_flags_api import FeatureFlagsApi

from flagward.config import Settings
from flagward.http.app import create_app
from tests.fakes import fake_deps
from tests.support import accounts
from tests.support.accounts import unique
from tests.support.server import ServerProcess

pytestmark = pytest.mark.usefixtures("conforms")

SEMANTIC = "application/json; domain-model=launchdarkly.semanticpatch"


@pytest.fixture
def project(http: httpx.Client) -> str:
    key = unique("audit")
    assert http.post("/api/v2/projects", json={"key": key, "name": key}).status_code == 201
    return key


def semantic(http: httpx.Client, project: str, key: str, instructions: list[Any], **body: Any) -> dict[str, Any]:
    response = http.patch(
        f"/api/v2/flags/{project}/{key}",
        content=json.dumps({"instructions": instructions, **body}),
        headers={"Content-Type": SEMANTIC},
    )
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def listed(audit: AuditLogApi, **query: Any) -> list[launchdarkly_api.AuditLogEntryListingRep]:
    items: list[launchdarkly_api.AuditLogEntryListingRep] = audit.get_audit_log_entries(**query).items
    return items


def test_a_flag_change_is_recorded_in_ld_shape(
    api: launchdarkly_api.ApiClient, http: httpx.Client, project: str
) -> None:
    audit = AuditLogApi(api)
    http.post(f"/api/v2/flags/{project}", json={"key": "checkout", "name": "Checkout"})
    semantic(http, project, "checkout", [{"kind": "turnFlagOn"}], environmentKey="production", comment="ship it")
    (entry, created) = listed(audit, spec=f"proj/{project}:env/*:flag/checkout", limit=20)
    identity = http.get("/api/v2/caller-identity").json()
    assert (entry.kind, entry.name, entry.comment) == ("flag", "Checkout", "ship it")
    assert [(a.action, a.resource) for a in entry.accesses] == [
        ("updateOn", f"proj/{project}:env/production:flag/checkout")
    ]
    assert entry.target.resources == [f"proj/{project}:env/production:flag/checkout"]
    assert entry.member.id == identity["memberId"] and entry.member.email
    assert entry.token is not None and entry.token.id == identity["tokenId"]
    assert "Checkout" in entry.description and "updateOn" in entry.description
    assert entry.short_description and entry.title_verb == "updated"
    assert entry.var_date >= created.var_date
    assert created.accesses[0].action == "createFlag"
    detail = audit.get_audit_log_entry(entry.id)
    assert detail.id == entry.id and detail.account_id == identity["accountId"]
    assert detail.previous_version["environments"]["production"]["on"] is False
    assert detail.current_version["environments"]["production"]["on"] is True
    assert set(detail.current_version["environments"]) == {"production"}
    assert detail.delta == {"environmentKey": "production", "instructions": [{"kind": "turnFlagOn"}]}
    assert detail.links["self"].href == f"/api/v2/auditlog/{entry.id}"
    with pytest.raises(launchdarkly_api.ApiException) as info:
        audit.get_audit_log_entry("0" * 24)
    assert info.value.status == 404


def test_every_kind_of_change_writes_one_entry(
    api: launchdarkly_api.ApiClient, http: httpx.Client, project: str
) -> None:
    audit = AuditLogApi(api)
    before = listed(audit, limit=1)[0].var_date
    http.post(f"/api/v2/flags/{project}", json={"key": "all", "name": "All"})
    semantic(http, project, "all", [{"kind": "updateName", "value": "Everything"}])
    FeatureFlagsApi(api).patch_feature_flag(
        project,
        "all",
        launchdarkly_api.PatchWithComment(
            patch=[launchdarkly_api.PatchOperation(op="replace", path="/environments/test/on", value=True)]
        ),
    )
    http.patch(f"/api/v2/flags/{project}/all", json={"merge": {"description": "merged"}})
    body = {"source": {"key": "test"}, "target": {"key": "production"}}
    assert http.post(f"/api/v2/flags/{project}/all/copy", json=body).status_code == 201
    http.post(f"/api/v2/segments/{project}/test", json={"key": "s", "name": "S"})
    http.patch(f"/api/v2/segments/{project}/test/s", json=[{"op": "add", "path": "/included/-", "value": "k"}])
    http.delete(f"/api/v2/segments/{project}/test/s")
    http.delete(f"/api/v2/flags/{project}/all")
    entries = [
        e
        for e in listed(audit, after=before - 1, limit=20)
        if e.kind != "project" and project in json.dumps(e.target.resources)
    ]
    assert [(e.kind, e.accesses[0].action) for e in entries] == [
        ("flag", "deleteFlag"),
        ("segment", "deleteSegment"),
        ("segment", "updateIncluded"),
        ("segment", "createSegment"),
        ("flag", "copyFlagConfigTo"),
        ("flag", "updateDescription"),
        ("flag", "updateOn"),
        ("flag", "updateName"),
        ("flag", "createFlag"),
    ]
    dates = [e.var_date for e in entries]
    assert dates == sorted(dates, reverse=True) and len(set(dates)) == len(dates)
    segment_patch = audit.get_audit_log_entry(entries[2].id)
    assert segment_patch.delta == [{"op": "add", "path": "/included/-", "value": "k"}]
    assert (segment_patch.previous_version["included"], segment_patch.current_version["included"]) == ([], ["k"])
    deleted = audit.get_audit_log_entry(entries[0].id)
    assert deleted.previous_version["name"] == "Everything" and deleted.current_version is None


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("proj/{p}:env/*:flag/*", ["updateOn:red", "updateOn:blue", "createFlag:blue", "createFlag:red"]),
        ("proj/{p}:env/test:flag/*", ["updateOn:blue"]),
        ("proj/{p}:env/production:flag/red", ["updateOn:red"]),
        ("proj/{p}:env/*:flag/bl*", ["updateOn:blue", "createFlag:blue"]),
        ("proj/{p}:env/*:segment/*", ["createSegment:green"]),
        ("proj/{p}", ["createProject:{p}"]),
        ("proj/{p}-other:env/*:flag/*", []),
    ],
)
def test_spec_selects_entries_by_resource(
    api: launchdarkly_api.ApiClient, http: httpx.Client, project: str, spec: str, expected: list[str]
) -> None:
    for key in ("red", "blue"):
        http.post(f"/api/v2/flags/{project}", json={"key": key, "name": key})
    semantic(http, project, "blue", [{"kind": "turnFlagOn"}], environmentKey="test")
    semantic(http, project, "red", [{"kind": "turnFlagOn"}], environmentKey="production")
    http.post(f"/api/v2/segments/{project}/production", json={"key": "green", "name": "green"})
    entries = listed(AuditLogApi(api), spec=spec.format(p=project), limit=20)
    assert [f"{e.accesses[0].action}:{e.name}" for e in entries] == [x.format(p=project) for x in expected]


def test_q_searches_the_entries(api: launchdarkly_api.ApiClient, http: httpx.Client, project: str) -> None:
    needle = unique("needle")
    http.post(f"/api/v2/flags/{project}", json={"key": "haystack", "name": needle})
    entries = listed(AuditLogApi(api), q=needle.upper(), limit=20)
    assert [(e.name, e.accesses[0].action) for e in entries] == [(needle, "createFlag")]


def test_paging_with_before_visits_every_entry_once(
    api: launchdarkly_api.ApiClient, http: httpx.Client, project: str
) -> None:
    created = http.post(f"/api/v2/flags/{project}", json={"key": "busy", "name": "busy"}).json()
    variation = created["variations"][0]["_id"]
    for i in range(24):  # quicker than the clock: several entries share a millisecond
        instruction = {"kind": "addTargets", "values": [f"k{i}"], "variationId": variation}
        semantic(http, project, "busy", [instruction], environmentKey="production")
        if i % 6 == 0:  # entries outside the spec, in between
            http.post(f"/api/v2/segments/{project}/production", json={"key": f"s{i}", "name": "s"})
    spec = f"proj/{project}:env/*:flag/busy"
    audit = AuditLogApi(api)
    seen: list[str] = []
    before = None
    while True:
        page = listed(audit, spec=spec, limit=7, **({"before": before} if before else {}))
        seen += [e.id for e in page]
        if len(page) < 7:
            break
        before = page[-1].var_date
    assert len(seen) == len(set(seen)) == 25
    first = http.get("/api/v2/auditlog", params={"spec": spec, "limit": 10}).json()
    following = http.get(first["_links"]["next"]["href"]).json()
    assert [e["_id"] for e in first["items"] + following["items"]] == seen[:20]
    last = http.get(following["_links"]["next"]["href"]).json()
    assert [e["_id"] for e in last["items"]] == seen[20:] and "next" not in last["_links"]


def test_after_and_before_bound_the_dates(api: launchdarkly_api.ApiClient, http: httpx.Client, project: str) -> None:
    audit = AuditLogApi(api)
    for key in ("one", "two", "three"):
        http.post(f"/api/v2/flags/{project}", json={"key": key, "name": key})
    three, _, one = listed(audit, spec=f"proj/{project}:env/*:flag/*", limit=3)
    spec = f"proj/{project}:env/*:flag/*"
    assert [e.name for e in listed(audit, spec=spec, after=one.var_date)] == ["three", "two"]
    assert [e.name for e in listed(audit, spec=spec, before=three.var_date)] == ["two", "one"]
    assert [e.name for e in listed(audit, spec=spec, before=three.var_date, after=one.var_date)] == ["two"]


@pytest.mark.parametrize("limit", [0, 21, -1])
def test_limit_must_be_between_1_and_20(http: httpx.Client, limit: int) -> None:
    response = http.get("/api/v2/auditlog", params={"limit": limit})
    assert response.status_code == 400 and response.json()["code"] == "invalid_request"


def test_a_service_token_is_recorded_as_the_token(
    server: ServerProcess, api: launchdarkly_api.ApiClient, project: str
) -> None:
    service = accounts.service_token(api, "writer")
    with launchdarkly_api.ApiClient(
        launchdarkly_api.Configuration(host=server.url, api_key={"ApiKey": str(service.token)})
    ) as as_service:
        FeatureFlagsApi(as_service).post_feature_flag(project, launchdarkly_api.FeatureFlagBody(key="svc", name="svc"))
    (entry,) = listed(AuditLogApi(api), spec=f"proj/{project}:env/*:flag/svc")
    assert entry.member is None
    assert (entry.token.id, entry.token.name, entry.token.service_token) == (service.id, service.name, True)
    assert entry.token.ending == str(service.token)[-4:]


def test_readers_may_read_the_log(
    server: ServerProcess, api: launchdarkly_api.ApiClient, http: httpx.Client, project: str
) -> None:
    http.post(f"/api/v2/flags/{project}", json={"key": "seen", "name": "seen"})
    reader = accounts.account(api, server.url, "reader")
    with accounts.session_client(server.url, reader.session) as session:
        (entry,) = listed(AuditLogApi(session), spec=f"proj/{project}:env/*:flag/seen")
    assert entry.accesses[0].action == "createFlag"


def test_no_route_changes_or_deletes_an_entry(server: ServerProcess, http: httpx.Client, project: str) -> None:
    http.post(f"/api/v2/flags/{project}", json={"key": "kept", "name": "kept"})
    entry = http.get("/api/v2/auditlog", params={"spec": f"proj/{project}:env/*:flag/kept"}).json()["items"][0]
    path = f"/api/v2/auditlog/{entry['_id']}"
    before = http.get(path).json()
    # Not recorded: LaunchDarkly documents none of these methods, so there is no response schema to check.
    with httpx.Client(base_url=server.url, headers={"Authorization": server.admin_token}) as unrecorded:
        for method in ("DELETE", "PATCH", "PUT", "POST"):
            response = unrecorded.request(method, path, json=[{"op": "replace", "path": "/comment", "value": "x"}])
            assert response.status_code == 405, (method, response.text)
    assert http.get(path).json() == before
    deps, _, _ = fake_deps()
    app = create_app(Settings(database_url="sqlite://"), deps)
    document = app.openapi()
    mutating = {
        (method.upper(), path)
        for path, item in document["paths"].items()
        if path.startswith("/api/v2/auditlog")
        for method in item
        if method in ("post", "put", "patch", "delete")
    }
    # POST /api/v2/auditlog is LaunchDarkly's search by statements (postAuditLogEntries): it reads only.
    assert mutating == {("POST", "/api/v2/auditlog")}
    assert {"/api/v2/auditlog", "/api/v2/auditlog/{id}"} <= set(document["paths"])
