"""LaunchDarkly's API conventions: authentication headers, the error shape and status codes, collections
and their pagination links, LD-API-Version, method override, and the served OpenAPI document. Some of
these need requests the official client cannot make, so this module speaks plain HTTP through httpx."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import httpx
import launchdarkly_api
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from launchdarkly_api.api.feature_flags_api import FeatureFlagsApi
from launchdarkly_api.api.projects_api import ProjectsApi

from tests.support import ldapi
from tests.support.accounts import unique
from tests.support.server import ServerProcess

OBJECT_ID = re.compile(r"^[0-9a-f]{24}$")


@pytest.fixture(scope="module")
def http(server: ServerProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, headers={"Authorization": server.admin_token}) as client:
        yield client


@pytest.fixture(scope="module")
def project(server: ServerProcess) -> str:
    key = unique("conv")
    with ldapi.client(server.url, server.admin_token) as api_client:
        ProjectsApi(api_client).post_project(launchdarkly_api.ProjectPost(key=key, name=key))
    return key


def assert_error(response: httpx.Response, status: int, code: str) -> dict[str, str]:
    """LaunchDarkly's error shape: JSON ``{code, message, id}`` with a UUID id."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body: dict[str, str] = response.json()
    assert set(body) == {"code", "message", "id"}
    assert body["code"] == code
    assert body["message"]
    uuid.UUID(body["id"])
    return body


def test_a_bearer_prefix_is_tolerated(server: ServerProcess) -> None:
    for value in (server.admin_token, f"Bearer {server.admin_token}", f"bearer  {server.admin_token}"):
        response = httpx.get(f"{server.url}/api/v2/caller-identity", headers={"Authorization": value})
        assert response.status_code == 200, value
        assert OBJECT_ID.match(response.json()["accountId"])


@pytest.mark.parametrize("value", [None, "", "api-unknown", "Bearer api-unknown", "garbage"])
def test_unknown_credentials_are_401(server: ServerProcess, value: str | None) -> None:
    headers = {"Authorization": value} if value is not None else {}
    body = assert_error(httpx.get(f"{server.url}/api/v2/projects", headers=headers), 401, "unauthorized")
    assert body["message"] == "Invalid access token"


def test_sdk_keys_mobile_keys_and_client_side_ids_are_refused(http: httpx.Client, project: str) -> None:
    env = http.get(f"/api/v2/projects/{project}/environments/production").json()
    for credential in (env["apiKey"], env["mobileKey"], env["_id"]):
        response = http.get("/api/v2/projects", headers={"Authorization": credential})
        assert assert_error(response, 401, "unauthorized")["message"] == "Invalid access token"


def test_not_found_is_404_in_ld_shape(http: httpx.Client, project: str) -> None:
    assert_error(http.get(f"/api/v2/projects/{unique('none')}"), 404, "not_found")
    assert_error(http.get(f"/api/v2/flags/{project}/{unique('none')}"), 404, "not_found")
    assert_error(http.get("/api/v2/no-such-resource"), 404, "not_found")
    assert_error(http.get(f"/api/v2/members/{'0' * 24}"), 404, "not_found")


def test_unsupported_methods_are_405(http: httpx.Client, project: str) -> None:
    response = http.put("/api/v2/projects", json={})
    assert_error(response, 405, "method_not_allowed")
    assert "GET" in response.headers["allow"] and "POST" in response.headers["allow"]
    assert_error(http.put(f"/api/v2/projects/{project}", json={}), 405, "method_not_allowed")
    assert_error(http.post(f"/api/v2/flags/{project}/x"), 405, "method_not_allowed")


def test_malformed_json_is_400(http: httpx.Client) -> None:
    response = http.post("/api/v2/projects", content=b'{"key": "x", ', headers={"content-type": "application/json"})
    assert "JSON" in assert_error(response, 400, "invalid_request")["message"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"key": "x"}, "name"),
        ({"key": "x", "name": 5}, "name"),
        ({"name": "x"}, "key"),
        ({"key": "x", "name": "x", "tags": "not-a-list"}, "tags"),
        ({"key": "x", "name": "x", "environments": [{"key": "e", "name": "E"}]}, "color"),
        ([], "body"),
    ],
)
def test_failed_validation_is_400_naming_the_field(http: httpx.Client, body: object, field: str) -> None:
    message = assert_error(http.post("/api/v2/projects", json=body), 400, "invalid_request")["message"]
    assert field in message


def test_bad_query_parameters_are_400(http: httpx.Client, project: str) -> None:
    for query in ({"limit": 0}, {"limit": "ten"}, {"offset": -1}, {"limit": 1_000_000}):
        message = assert_error(http.get("/api/v2/projects", params=query), 400, "invalid_request")["message"]
        assert next(iter(query)) in message
    assert_error(http.get(f"/api/v2/flags/{project}", params={"summary": "maybe"}), 400, "invalid_request")


def test_offsets_beyond_any_store_are_400_not_500(http: httpx.Client) -> None:
    for path in ("/api/v2/projects", "/api/v2/members", "/api/v2/teams", "/api/v2/tokens"):
        for offset in (2**63, 10**30):
            message = assert_error(http.get(path, params={"offset": offset}), 400, "invalid_request")["message"]
            assert "offset" in message


def test_nul_characters_are_400_on_both_stores(http: httpx.Client, project: str) -> None:
    """PostgreSQL cannot store U+0000; both stores refuse it up front instead of failing with a 500."""
    attempts = [
        http.post("/api/v2/projects", json={"key": unique("nul"), "name": "a\x00b"}),
        http.post("/api/v2/members", json=[{"email": "nul\x00@example.com", "role": "reader"}]),
        http.post("/api/v2/teams", json={"key": unique("nul"), "name": "T", "description": "\x00"}),
        http.post("/api/v2/tokens", json={"name": "\x00", "role": "reader"}),
        http.patch(f"/api/v2/projects/{project}", json=[{"op": "replace", "path": "/tags", "value": ["\x00"]}]),
        http.get("/api/v2/members", params={"filter": "query:\x00"}),
        http.get(f"/api/v2/flags/{project}/a%00b"),
        http.post("/auth/login", json={"email": "\x00", "password": "x"}),
    ]
    for response in attempts:
        assert "NUL" in assert_error(response, 400, "invalid_request")["message"], response.request.url
    escaped = http.post("/api/v2/projects", json={"key": unique("slash"), "name": "a\\u0000 is text"})
    assert escaped.status_code == 201 and escaped.json()["name"] == "a\\u0000 is text"


def test_a_failing_json_patch_test_is_409(http: httpx.Client, project: str) -> None:
    patch = [
        {"op": "test", "path": "/name", "value": "something else"},
        {"op": "replace", "path": "/name", "value": "x"},
    ]
    assert_error(http.patch(f"/api/v2/projects/{project}", json=patch), 409, "optimistic_locking_error")
    env_patch = [{"op": "test", "path": "/color", "value": "000000"}]
    url = f"/api/v2/projects/{project}/environments/test"
    assert_error(http.patch(url, json=env_patch), 409, "optimistic_locking_error")
    assert http.get(f"/api/v2/projects/{project}").json()["name"] == project


def test_patch_bodies_take_a_comment(http: httpx.Client, project: str) -> None:
    body = {"comment": "tidy up", "patch": [{"op": "replace", "path": "/tags", "value": ["tidy"]}]}
    assert http.patch(f"/api/v2/projects/{project}", json=body).json()["tags"] == ["tidy"]
    assert_error(http.patch(f"/api/v2/projects/{project}", json={"tags": ["x"]}), 400, "invalid_request")


def test_collections_carry_items_total_count_and_pagination_links(http: httpx.Client) -> None:
    tag = unique("page")
    for _ in range(5):
        key = unique("paged")
        assert http.post("/api/v2/projects", json={"key": key, "name": key, "tags": [tag]}).status_code == 201
    middle = http.get("/api/v2/projects", params={"limit": 2, "offset": 2, "filter": f"tags:{tag}"}).json()
    assert set(middle) == {"items", "totalCount", "_links"}
    assert (len(middle["items"]), middle["totalCount"]) == (2, 5)
    links = middle["_links"]
    assert set(links) == {"self", "first", "prev", "next", "last"}
    offsets = {name: parse_qs(urlsplit(link["href"]).query) for name, link in links.items()}
    assert {name: q["offset"] for name, q in offsets.items()} == {
        "self": ["2"],
        "first": ["0"],
        "prev": ["0"],
        "next": ["4"],
        "last": ["4"],
    }
    assert all(q["limit"] == ["2"] and q["filter"] == [f"tags:{tag}"] for q in offsets.values())
    assert all(
        link["type"] == "application/json" and link["href"].startswith("/api/v2/projects?") for link in links.values()
    )
    followed = http.get(links["next"]["href"]).json()
    assert len(followed["items"]) == 1 and "next" not in followed["_links"]
    keys = [p["key"] for page in (middle, followed) for p in page["items"]]
    assert len(set(keys)) == 3


def test_ids_are_24_hex_and_timestamps_are_milliseconds(http: httpx.Client, project: str) -> None:
    identity = http.get("/api/v2/caller-identity").json()
    member = http.get(f"/api/v2/members/{identity['memberId']}").json()
    token = http.get(f"/api/v2/tokens/{identity['tokenId']}").json()
    flag = http.post(f"/api/v2/flags/{project}", json={"key": unique("ts"), "name": "ts"}).json()
    for value in (
        identity["accountId"],
        member["_id"],
        token["_id"],
        http.get(f"/api/v2/projects/{project}").json()["_id"],
    ):
        assert OBJECT_ID.match(value)
    for millis in (member["creationDate"], token["creationDate"], flag["creationDate"]):
        assert 1_600_000_000_000 < millis < 10_000_000_000_000


def test_ld_api_version_is_checked_and_honoured(http: httpx.Client, project: str) -> None:
    for version in ("20240415", "20220603", "20191212", "beta"):
        assert http.get("/api/v2/projects", headers={"LD-API-Version": version}).status_code == 200
    message = assert_error(
        http.get("/api/v2/projects", headers={"LD-API-Version": "20990101"}), 400, "invalid_request"
    )["message"]
    assert "LD-API-Version" in message
    http.post(f"/api/v2/flags/{project}", json={"key": unique("v"), "name": "v"})
    current = http.get(f"/api/v2/flags/{project}").json()["items"][0]
    older = http.get(f"/api/v2/flags/{project}", headers={"LD-API-Version": "20220603"}).json()["items"][0]
    assert "environments" not in current  # since 20240415, only when filtered by environment
    assert set(older["environments"]) == {"production", "test"}
    oldest = http.get(f"/api/v2/flags/{project}", headers={"LD-API-Version": "20160426"}).json()["items"][0]
    assert "rules" in oldest["environments"]["test"] and "rules" not in older["environments"]["test"]
    assert "environments" not in http.get(f"/api/v2/projects/{project}").json()
    before_expand = http.get(f"/api/v2/projects/{project}", headers={"LD-API-Version": "20210729"}).json()
    assert before_expand["environments"]["totalCount"] == 2  # environments were not expandable then


def test_a_tokens_default_api_version_applies_without_the_header(
    server: ServerProcess, http: httpx.Client, project: str
) -> None:
    created = http.post("/api/v2/tokens", json={"name": unique("old"), "role": "reader", "defaultApiVersion": 20210729})
    old_token = created.json()["token"]
    response = httpx.get(f"{server.url}/api/v2/projects/{project}", headers={"Authorization": old_token})
    assert response.json()["environments"]["totalCount"] == 2
    pinned = httpx.get(
        f"{server.url}/api/v2/projects/{project}", headers={"Authorization": old_token, "LD-API-Version": "20240415"}
    )
    assert "environments" not in pinned.json()


def test_method_override_tunnels_patch_and_delete_through_post(http: httpx.Client) -> None:
    key = unique("tunnel")
    http.post("/api/v2/projects", json={"key": key, "name": "Before"})
    patched = http.post(
        f"/api/v2/projects/{key}",
        json=[{"op": "replace", "path": "/name", "value": "After"}],
        headers={"X-HTTP-Method-Override": "PATCH"},
    )
    assert patched.status_code == 200 and patched.json()["name"] == "After"
    deleted = http.post(f"/api/v2/projects/{key}", headers={"X-HTTP-Method-Override": "delete"})
    assert deleted.status_code == 204
    assert_error(http.get(f"/api/v2/projects/{key}"), 404, "not_found")
    not_tunnelled = http.post("/api/v2/projects", headers={"X-HTTP-Method-Override": "GET"}, json={})
    assert not_tunnelled.status_code == 400  # GET is not tunnelled: this stays a (bad) POST


def test_method_override_through_the_official_client(server: ServerProcess, project: str) -> None:
    key = unique("client-tunnel")
    with ldapi.client(server.url, server.admin_token) as api_client:
        flags = FeatureFlagsApi(api_client)
        flags.post_feature_flag(project, launchdarkly_api.FeatureFlagBody(key=key, name=key))
        api_client.set_default_header("X-HTTP-Method-Override", "DELETE")
        assert ProjectsApi(api_client).get_project(project).key == project  # GET is never overridden
        response = httpx.post(
            f"{server.url}/api/v2/flags/{project}/{key}",
            headers={"Authorization": server.admin_token, "X-HTTP-Method-Override": "DELETE"},
        )
    assert response.status_code == 204


def test_the_openapi_document_and_docs_are_served(server: ServerProcess) -> None:
    document = httpx.get(f"{server.url}/openapi.json")
    assert document.status_code == 200
    paths = document.json()["paths"]
    for path in ("/api/v2/projects", "/api/v2/flags/{projectKey}", "/api/v2/members", "/api/v2/tokens"):
        assert path in paths
    docs = httpx.get(f"{server.url}/docs")
    assert docs.status_code == 200 and docs.headers["content-type"].startswith("text/html")
    assert "/openapi.json" in docs.text


JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=12,
)
FIELDS = st.sampled_from(
    ["key", "name", "tags", "variations", "defaults", "environments", "color", "role", "email", "instructions"]
)
BODIES = (
    JSON | st.dictionaries(FIELDS, JSON, max_size=5) | st.lists(st.dictionaries(FIELDS, JSON, max_size=4), max_size=3)
)
PATCH_OPS = st.lists(
    st.fixed_dictionaries(
        {
            "op": st.sampled_from(["add", "remove", "replace", "test", "move", "copy", "bogus"]),
            "path": st.sampled_from(
                [
                    "/name",
                    "/tags",
                    "/tags/0",
                    "/tags/-",
                    "/color",
                    "/approvalSettings",
                    "/approvalSettings/required",
                    "/approvalSettings/minNumApprovals",
                    "/defaultClientSideAvailability",
                    "/role",
                    "/firstName",
                    "",
                    "/",
                    "/description",
                    "/defaultApiVersion",
                    "~",
                    "/x/y/z",
                ]
            ),
        },
        optional={"value": JSON, "from": st.sampled_from(["/name", "/tags", "/nowhere"])},
    ),
    max_size=4,
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    target=st.sampled_from(
        [
            "/api/v2/projects",
            "/api/v2/flags/{p}",
            "/api/v2/projects/{p}/environments",
            "/api/v2/members",
            "/api/v2/teams",
            "/api/v2/tokens",
        ]
    ),
    body=BODIES,
)
def test_arbitrary_bodies_never_cause_a_500(http: httpx.Client, project: str, target: str, body: object) -> None:
    response = http.post(target.format(p=project), json=body)
    assert response.status_code < 500, response.text
    assert response.headers["content-type"].startswith("application/json")


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    target=st.sampled_from(
        ["/api/v2/projects/{p}", "/api/v2/projects/{p}/environments/test", "/api/v2/members/{m}", "/api/v2/tokens/{t}"]
    ),
    patch=PATCH_OPS | BODIES,
)
def test_arbitrary_patches_never_cause_a_500(http: httpx.Client, project: str, target: str, patch: object) -> None:
    identity = http.get("/api/v2/caller-identity").json()
    spare = http.post("/api/v2/members", json=[{"email": f"{unique('fuzz')}@example.com", "role": "reader"}])
    token = http.post("/api/v2/tokens", json={"name": "fuzz", "role": "reader"}).json()["_id"]
    url = target.format(p=project, m=spare.json()["items"][0]["_id"], t=token)
    response = http.patch(url, json=patch)
    assert response.status_code < 500, response.text
    assert identity["memberId"]
