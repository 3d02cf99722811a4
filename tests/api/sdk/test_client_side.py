"""Client-side (client-side ID) and mobile (mobile key) evaluation endpoints, and CORS for browsers.
(Their results are checked against the Python SDK on every test vector in ``test_vectors_through_sdk``.)"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any

import httpx

from tests.support.accounts import unique
from tests.support.openapi import load_spec
from tests.support.sdk import Env, Rest, wait_until
from tests.support.server import ServerProcess

USER = {"kind": "user", "key": "visitor", "name": "Visitor"}


def _b64(context: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(context).encode()).decode().rstrip("=")


def _flags(api: Rest, env: Env) -> tuple[str, str, str]:
    """One flag for browsers only, one for mobile only, one for neither; all on."""
    browser, mobile, server_only = unique("browser"), unique("mobile"), unique("server")
    availability = {
        browser: {"usingEnvironmentId": True, "usingMobileKey": False},
        mobile: {"usingEnvironmentId": False, "usingMobileKey": True},
        server_only: {"usingEnvironmentId": False, "usingMobileKey": False},
    }
    for key, csa in availability.items():
        api.create_flag(env.project, key, clientSideAvailability=csa)
        api.turn_on(env.project, key, env.key)
    return browser, mobile, server_only


def test_client_side_ids_see_only_flags_available_to_them(server: ServerProcess, api: Rest) -> None:
    env = api.create_project()["production"]
    browser, mobile, _ = _flags(api, env)
    by_get = httpx.get(f"{server.url}/sdk/evalx/{env.id}/contexts/{_b64(USER)}")
    assert by_get.status_code == 200
    assert by_get.json() == {
        browser: {"value": True, "variation": 0, "version": 2, "flagVersion": 2, "trackEvents": False}
    }
    by_report = httpx.request("REPORT", f"{server.url}/sdk/evalx/{env.id}/context?withReasons=true", json=USER)
    assert by_report.json()[browser]["reason"] == {"kind": "FALLTHROUGH"}
    legacy = httpx.get(f"{server.url}/sdk/evalx/{env.id}/users/{_b64({'key': 'old-style'})}")
    assert set(legacy.json()) == {browser}
    mobile_view = httpx.get(f"{server.url}/msdk/evalx/contexts/{_b64(USER)}", headers={"Authorization": env.mobile_key})
    assert set(mobile_view.json()) == {mobile}
    mobile_report = httpx.request(
        "REPORT", f"{server.url}/msdk/evalx/context", json=USER, headers={"Authorization": env.mobile_key}
    )
    assert set(mobile_report.json()) == {mobile}


def test_changes_reach_client_side_evaluations(server: ServerProcess, api: Rest) -> None:
    env = api.create_project()["production"]
    browser, _, _ = _flags(api, env)
    url = f"{server.url}/sdk/evalx/{env.id}/contexts/{_b64(USER)}?withReasons=true"
    api.semantic_patch(env.project, browser, env.key, {"kind": "turnFlagOff"})
    wait_until(lambda: httpx.get(url).json()[browser]["reason"] == {"kind": "OFF"})


def test_unknown_credentials_and_bad_contexts(server: ServerProcess, api: Rest) -> None:
    env = api.create_project()["production"]
    assert httpx.get(f"{server.url}/sdk/evalx/{'0' * 24}/contexts/{_b64(USER)}").status_code == 404
    wrong_key = httpx.get(f"{server.url}/msdk/evalx/contexts/{_b64(USER)}", headers={"Authorization": env.sdk_key})
    assert wrong_key.status_code == 401
    assert httpx.get(f"{server.url}/sdk/evalx/{env.id}/contexts/not-base64-json").status_code == 400
    no_key = httpx.request("REPORT", f"{server.url}/sdk/evalx/{env.id}/context", json={"kind": "user"})
    assert no_key.status_code == 400


def test_secure_mode_requires_the_context_hash(server: ServerProcess, api: Rest) -> None:
    env = api.create_project()["production"]
    browser, _, _ = _flags(api, env)
    response = api.http.patch(
        f"/api/v2/projects/{env.project}/environments/{env.key}",
        json=[{"op": "replace", "path": "/secureMode", "value": True}],
    )
    assert response.status_code == 200, response.text
    url = f"{server.url}/sdk/evalx/{env.id}/contexts/{_b64(USER)}"
    wait_until(lambda: httpx.get(url).status_code == 400)
    digest = hmac.new(env.sdk_key.encode(), b"visitor", hashlib.sha256).hexdigest()
    assert set(httpx.get(url, params={"h": digest}).json()) == {browser}
    assert httpx.get(url, params={"h": "0" * 64}).status_code == 400


def test_browsers_may_call_client_side_endpoints_from_any_origin(server: ServerProcess, api: Rest) -> None:
    env = api.create_project()["production"]
    origin = "https://shop.example"
    preflight = httpx.options(
        f"{server.url}/sdk/evalx/{env.id}/context",
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": "REPORT",
            "Access-Control-Request-Headers": "content-type",
        },
    )
    assert preflight.status_code == 204
    assert preflight.headers["access-control-allow-origin"] == origin
    assert "REPORT" in preflight.headers["access-control-allow-methods"]
    assert "Content-Type" in preflight.headers["access-control-allow-headers"]
    for response in (
        httpx.get(f"{server.url}/sdk/evalx/{env.id}/contexts/{_b64(USER)}", headers={"Origin": origin}),
        httpx.post(f"{server.url}/events/bulk/{env.id}", json=[], headers={"Origin": origin}),
        httpx.get(f"{server.url}/sdk/goals/{env.id}", headers={"Origin": origin}),
    ):
        assert response.is_success
        assert response.headers["access-control-allow-origin"] == origin
    # Server-side endpoints are not for browsers.
    latest = httpx.get(f"{server.url}/sdk/latest-all", headers={"Authorization": env.sdk_key, "Origin": origin})
    assert "access-control-allow-origin" not in latest.headers


def test_the_rest_evaluate_endpoint_explains_targeting(server: ServerProcess, api: Rest) -> None:
    env = api.create_project()["production"]
    key = unique("explain")
    flag = api.create_flag(env.project, key, name="Explain me", tags=["beta"])
    api.semantic_patch(
        env.project,
        key,
        env.key,
        {"kind": "turnFlagOn"},
        {
            "kind": "addRule",
            "clauses": [{"attribute": "name", "op": "in", "values": ["Visitor"], "negate": False}],
            "variationId": flag["variations"][1]["_id"],
        },
    )
    other = unique("plain")
    api.create_flag(env.project, other)
    path = f"/api/v2/projects/{env.project}/environments/{env.key}/flags/evaluate"
    response = api.http.post(path, json=USER)
    content_type = response.headers.get("content-type")
    assert load_spec().problems("POST", path, 200, response.content, content_type) == []
    body = response.json()
    assert body["totalCount"] == 2 and body["_links"]["self"]["href"] == path
    items = {item["key"]: item for item in body["items"]}
    rule_id = api.http.get(f"/api/v2/flags/{env.project}/{key}").json()["environments"]["production"]["rules"][0]["_id"]
    assert items[key]["_value"] is False and items[key]["name"] == "Explain me"
    assert items[key]["reason"] == {"kind": "RULE_MATCH", "ruleIndex": 0, "ruleID": rule_id}
    assert items[other]["reason"] == {"kind": "OFF"}
    filtered = api.http.post(path, params={"filter": 'tags contains ["beta"]'}, json=USER).json()
    assert [i["key"] for i in filtered["items"]] == [key]
    page = api.http.post(path, params={"limit": 1, "offset": 1, "sort": "key"}, json=USER).json()
    assert page["totalCount"] == 2 and [i["key"] for i in page["items"]] == [sorted([key, other])[1]]
    assert api.http.post(path, json={"kind": "user"}).status_code == 400
    assert httpx.post(f"{server.url}{path}", json=USER).status_code == 401
