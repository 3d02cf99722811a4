"""Analytics events from SDKs, and the flag statuses they feed (in LaunchDarkly's shapes)."""

from __future__ import annotations

import gzip
import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from ldclient import Context

from tests.support.accounts import unique
from tests.support.openapi import load_spec
from tests.support.sdk import Env, Rest, rest, sdk_client, wait_until
from tests.support.server import ServerProcess


@pytest.fixture(scope="module")
def fast_server(module_store_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """A server that writes evaluation counts every 0.2 s, so tests need not wait."""
    with ServerProcess(
        database_url=module_store_url,
        workdir=tmp_path_factory.mktemp("server"),
        extra_env={"FLAGWARD_FLAG_STATUS_FLUSH_SECONDS": "0.2"},
    ) as process:
        yield process


@pytest.fixture(scope="module")
def api(fast_server: ServerProcess) -> Iterator[Rest]:
    with rest(fast_server.url, fast_server.admin_token) as client:
        yield client


def _summary(flag_key: str, end: int, counters: list[dict[str, Any]], default: Any = False) -> dict[str, Any]:
    return {
        "kind": "summary",
        "startDate": end - 1000,
        "endDate": end,
        "features": {flag_key: {"default": default, "contextKinds": ["user"], "counters": counters}},
    }


def _status(server: ServerProcess, api: Rest, env: Env, flag: str) -> dict[str, Any]:
    response = api.http.get(f"/api/v2/flag-statuses/{env.project}/{env.key}/{flag}")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _validate(url: str, response: httpx.Response) -> None:
    problems = load_spec().problems(
        "GET", url, response.status_code, response.content, response.headers.get("content-type")
    )
    assert problems == []


def test_summary_events_become_flag_statuses(fast_server: ServerProcess, api: Rest) -> None:
    env = api.create_project()["production"]
    used, unused = unique("used"), unique("unused")
    api.create_flag(env.project, used)
    api.create_flag(env.project, unused)
    end = int(time.time() * 1000)
    events = [
        {"kind": "index", "creationDate": end, "context": {"kind": "user", "key": "u"}},
        _summary(used, end, [{"count": 3, "value": True, "variation": 0, "version": 1}], default="fallback"),
    ]
    response = httpx.post(f"{fast_server.url}/bulk", headers={"Authorization": env.sdk_key}, json=events)
    assert response.status_code == 202

    status = wait_until(lambda: (s := _status(fast_server, api, env, used)).get("lastRequested") and s)
    assert status["name"] == "active"  # requested, but created (changed) within the last seven days
    assert status["default"] == "fallback"
    assert status["lastRequested"].endswith("Z")
    assert status["_links"]["parent"]["href"] == f"/api/v2/flags/{env.project}/{used}"

    url = f"/api/v2/flag-statuses/{env.project}/{env.key}"
    listing = api.http.get(url)
    _validate(url, listing)
    items = {item["_links"]["parent"]["href"].rsplit("/", 1)[1]: item for item in listing.json()["items"]}
    assert items[unused] == {
        "name": "new",
        "_links": {
            "self": {"href": f"{url}/{unused}", "type": "application/json"},
            "parent": {"href": f"/api/v2/flags/{env.project}/{unused}", "type": "application/json"},
        },
    }
    assert items[used]["name"] == "active"
    _validate(f"{url}/{used}", api.http.get(f"{url}/{used}"))
    across = api.http.get(f"/api/v2/flag-status/{env.project}/{used}").json()
    assert across["environments"]["production"]["name"] == "active"
    assert across["environments"]["test"] == {"name": "new"}


def test_the_latest_request_wins_and_gzip_payloads_are_read(fast_server: ServerProcess, api: Rest) -> None:
    env = api.create_project()["test"]
    key = unique("flag")
    api.create_flag(env.project, key)
    later, earlier = int(time.time() * 1000), int(time.time() * 1000) - 60_000
    for end, default in ((later, "new-default"), (earlier, "old-default")):
        body = gzip.compress(json.dumps([_summary(key, end, [{"count": 1, "value": 1}], default)]).encode())
        response = httpx.post(
            f"{fast_server.url}/bulk",
            headers={"Authorization": env.sdk_key, "Content-Encoding": "gzip", "Content-Type": "application/json"},
            content=body,
        )
        assert response.status_code == 202
    status = wait_until(lambda: (s := _status(fast_server, api, env, key)).get("lastRequested") and s)
    assert status["default"] == "new-default"
    expected = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(later / 1000))
    assert status["lastRequested"].startswith(expected)


def test_the_python_sdk_sends_events_that_reach_flag_statuses(fast_server: ServerProcess, api: Rest) -> None:
    env = api.create_project()["production"]
    key = unique("sdk-evaluated")
    api.create_flag(env.project, key)
    with sdk_client(fast_server.url, env.sdk_key, diagnostic_opt_out=False) as client:
        assert client.variation(key, Context.create("someone"), True) is False
        client.flush()
        status = wait_until(lambda: (s := _status(fast_server, api, env, key)).get("lastRequested") and s)
    assert status["name"] == "active" and status["default"] is True


def test_event_endpoints_refuse_unknown_credentials_and_bad_payloads(fast_server: ServerProcess, api: Rest) -> None:
    env = api.create_project()["production"]

    def post(path: str, headers: dict[str, str], **body: Any) -> int:
        return httpx.post(f"{fast_server.url}{path}", headers=headers, **body).status_code

    assert post("/bulk", {"Authorization": "sdk-nope"}, json=[]) == 401
    assert post("/mobile/events/bulk", {"Authorization": env.sdk_key}, json=[]) == 401  # not a mobile key
    assert post(f"/events/bulk/{'0' * 24}", {}, json=[]) == 404
    assert post("/bulk", {"Authorization": env.sdk_key}, content=b"{not json") == 400
    for path, headers in (
        ("/diagnostic", {"Authorization": env.sdk_key}),
        ("/mobile/events/bulk", {"Authorization": env.mobile_key}),
        ("/mobile/events/diagnostic", {"Authorization": env.mobile_key}),
        (f"/events/bulk/{env.id}", {}),
        (f"/events/diagnostic/{env.id}", {}),
    ):
        assert post(path, headers, json=[]) == 202, path
