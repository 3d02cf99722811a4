"""Hostile input gets a clear 4xx and costs nothing (issue 8 §2), on SQLite and PostgreSQL.

Each test reproduces a finding made against a real server: before, these requests were stored (SQLite),
answered 500 (PostgreSQL, or both), or stalled the process."""

from __future__ import annotations

import json
import socket
import threading
import time
import zlib
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.support.accounts import unique
from tests.support.sdk import Env, Rest, rest, wait_until
from tests.support.server import ServerProcess

SEMANTIC = "application/json; domain-model=launchdarkly.semanticpatch"
MIB = 1024 * 1024


@pytest.fixture(scope="module")
def hostile_server(module_store_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """A server with the default body limits that writes evaluation counts every 0.2 s."""
    with ServerProcess(
        database_url=module_store_url,
        workdir=tmp_path_factory.mktemp("server"),
        extra_env={"FLAGWARD_FLAG_STATUS_FLUSH_SECONDS": "0.2"},
    ) as process:
        yield process


@pytest.fixture(scope="module")
def api(hostile_server: ServerProcess) -> Iterator[Rest]:
    with rest(hostile_server.url, hostile_server.admin_token) as client:
        yield client


@pytest.fixture(scope="module")
def env(api: Rest) -> Env:
    return api.create_project()["production"]


@pytest.fixture(scope="module")
def bomb() -> bytes:
    """99 KB of gzip that inflates to 100 MB: an events payload (one long run of whitespace)."""
    deflate = zlib.compressobj(9, zlib.DEFLATED, 31)
    chunk = b" " * MIB
    parts = [deflate.compress(b"[")]
    parts += [deflate.compress(chunk) for _ in range(100)]
    parts += [deflate.compress(b"]"), deflate.flush()]
    return b"".join(parts)


def _error(response: httpx.Response, status: int) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"code", "message", "id"}, body
    message: str = body["message"]
    return message


def _raw(api: Rest, method: str, path: str, text: str, content_type: str = "application/json") -> httpx.Response:
    """A body sent as it is written: Python's json.dumps writes NaN and Infinity, as a hostile client may."""
    return api.http.request(method, path, content=text.encode(), headers={"Content-Type": content_type})


# ---- body limits, on the inflated size


def test_bodies_over_the_api_limit_get_413(hostile_server: ServerProcess, api: Rest) -> None:
    big = json.dumps({"email": "a@b.c", "password": "x" * (MIB + 1)})
    response = httpx.post(f"{hostile_server.url}/auth/login", content=big, headers={"Content-Type": "application/json"})
    assert "limit of 1048576 bytes" in _error(response, 413)
    assert response.json()["code"] == "request_entity_too_large"
    name = "n" * (2 * MIB)
    _error(api.http.post("/api/v2/projects", json={"key": unique("big"), "name": name}), 413)


def test_a_gzip_bomb_is_refused_while_inflating(hostile_server: ServerProcess, env: Env, bomb: bytes) -> None:
    assert len(bomb) < 120_000
    headers = {"Content-Encoding": "gzip", "Content-Type": "application/json"}
    for path, extra in ((f"/events/bulk/{env.id}", {}), ("/bulk", {"Authorization": env.sdk_key})):
        started = time.monotonic()
        response = httpx.post(f"{hostile_server.url}{path}", content=bomb, headers={**headers, **extra}, timeout=60)
        assert "limit of 5242880 bytes" in _error(response, 413), path
        assert time.monotonic() - started < 5.0
    response = httpx.post(
        f"{hostile_server.url}/api/v2/projects", content=bomb, headers={**headers, "Authorization": "x"}, timeout=60
    )
    _error(response, 413)


def test_the_event_loop_keeps_answering_while_hostile_bodies_arrive(
    hostile_server: ServerProcess, env: Env, bomb: bytes
) -> None:
    """/healthz answers promptly while bombs are inflated and a large events payload is parsed."""
    large = json.dumps([{"kind": "custom", "key": "k", "creationDate": 1}] * 90_000).encode()  # ~4.5 MB
    assert len(large) < 5 * MIB
    stop = threading.Event()

    def attack() -> None:
        with httpx.Client(base_url=hostile_server.url, timeout=60) as client:
            while not stop.is_set():
                client.post(f"/events/bulk/{env.id}", content=bomb, headers={"Content-Encoding": "gzip"})
                client.post(f"/events/bulk/{env.id}", content=large, headers={"Content-Type": "application/json"})

    attackers = [threading.Thread(target=attack) for _ in range(3)]
    for thread in attackers:
        thread.start()
    latencies = []
    try:
        with httpx.Client(base_url=hostile_server.url, timeout=30) as client:
            deadline = time.monotonic() + 3.0
            while time.monotonic() < deadline:
                started = time.monotonic()
                assert client.get("/healthz").status_code == 200
                latencies.append(time.monotonic() - started)
                time.sleep(0.05)
    finally:
        stop.set()
        for thread in attackers:
            thread.join()
    assert max(latencies) < 1.0, sorted(latencies)[-5:]


def test_a_declared_length_over_the_limit_is_refused_before_reading(hostile_server: ServerProcess) -> None:
    with socket.create_connection(("127.0.0.1", hostile_server.port), timeout=10) as sock:
        sock.sendall(
            b"POST /auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            + f"Content-Length: {50 * MIB}\r\n\r\n{{".encode()
        )
        answer = sock.recv(65536)  # answered although 50 MB minus one byte are still to come
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]


# ---- strict JSON, naming the field


@pytest.mark.parametrize(
    ("literal", "why"),
    [("NaN", "finite"), ("Infinity", "finite"), ("-Infinity", "finite"), ("1e400", "finite"), (str(2**64), "64-bit")],
)
def test_non_finite_and_oversized_numbers_in_a_flag_are_refused(api: Rest, env: Env, literal: str, why: str) -> None:
    key = unique("nan")
    body = f'{{"key": "{key}", "name": "N", "variations": [{{"value": 1}}, {{"value": {literal}}}]}}'
    message = _error(_raw(api, "POST", f"/api/v2/flags/{env.project}", body), 400)
    assert message.startswith("variations[1].value:") and why in message
    api.create_flag(env.project, key, variations=[{"value": 1}, {"value": 2}])
    patch = f'[{{"op": "replace", "path": "/variations/0/value", "value": {literal}}}]'
    message = _error(_raw(api, "PATCH", f"/api/v2/flags/{env.project}/{key}", patch), 400)
    assert message.startswith("body[0].value:") and why in message
    sdk = api.http.get("/sdk/latest-all", headers={"Authorization": env.sdk_key})
    assert json.loads(sdk.text, parse_constant=lambda c: pytest.fail(f"the SDK payload carries {c}"))


def test_an_execution_date_beyond_64_bits_is_400(api: Rest, env: Env) -> None:
    key = unique("when")
    api.create_flag(env.project, key)
    body = {"description": "d", "instructions": [{"kind": "turnFlagOn"}], "executionDate": 2**63}
    path = f"/api/v2/projects/{env.project}/flags/{key}/environments/{env.key}/approval-requests"
    assert _error(api.http.post(path, json=body), 400).startswith("executionDate:")


def test_deep_nesting_is_400_and_the_deepest_allowed_value_is_served(api: Rest, env: Env) -> None:
    key = unique("deep")
    api.create_flag(env.project, key, variations=[{"value": 1}, {"value": 2}])
    deep = "[" * 500 + "]" * 500
    patch = f'[{{"op": "replace", "path": "/variations/0/value", "value": {deep}}}]'
    assert "nested deeper than 64" in _error(_raw(api, "PATCH", f"/api/v2/flags/{env.project}/{key}", patch), 400)
    assert "nested deeper" in _error(_raw(api, "POST", "/api/v2/projects", "[" * 10_000), 400)
    allowed: Any = "leaf"
    for _ in range(62):  # the body is a list of operations, each an object: 62 + 2 = 64 levels
        allowed = {"a": allowed}
    api.json_patch(env.project, key, [{"op": "replace", "path": "/variations/0/value", "value": allowed}])
    wait_until(lambda: _served(api, env)["flags"][key]["variations"][0] == allowed)


def _served(api: Rest, env: Env) -> Any:
    return api.http.get("/sdk/latest-all", headers={"Authorization": env.sdk_key}).json()


def test_a_nul_in_a_body_is_still_refused(api: Rest) -> None:
    body = '{"key": "k", "name": "a\\u0000b"}'
    assert "NUL" in _error(_raw(api, "POST", "/api/v2/projects", body), 400)


def test_an_audit_log_date_beyond_64_bits_is_400(api: Rest) -> None:
    assert _error(api.http.get("/api/v2/auditlog", params={"before": 2**63}), 400).startswith("before:")
    assert _error(api.http.get("/api/v2/auditlog", params={"after": -(2**63) - 1}), 400).startswith("after:")


# ---- LaunchDarkly's length limits, the same on both stores


def test_names_over_256_characters_are_400_everywhere(api: Rest, env: Env) -> None:
    long_name = "n" * 257
    key = unique("named")
    assert "256" in _error(api.http.post(f"/api/v2/flags/{env.project}", json={"key": key, "name": long_name}), 400)
    api.create_flag(env.project, key, name="n" * 256)
    ops = [{"op": "replace", "path": "/name", "value": long_name}]
    assert "256" in _error(api.http.patch(f"/api/v2/flags/{env.project}/{key}", json=ops), 400)
    instructions = {"instructions": [{"kind": "updateName", "value": long_name}]}
    response = api.http.patch(
        f"/api/v2/flags/{env.project}/{key}", json=instructions, headers={"Content-Type": SEMANTIC}
    )
    assert "256" in _error(response, 400)
    assert "256" in _error(api.http.post("/api/v2/projects", json={"key": unique("p"), "name": long_name}), 400)
    segment = {"key": unique("s"), "name": long_name}
    assert "256" in _error(api.http.post(f"/api/v2/segments/{env.project}/{env.key}", json=segment), 400)
    team = {"key": unique("t"), "name": long_name}
    assert "256" in _error(api.http.post("/api/v2/teams", json=team), 400)
    assert "256" in _error(api.http.post(f"/api/v2/flags/{env.project}", json={"key": "k" * 257, "name": "k"}), 400)


# ---- the Content-Type the REST API expects


def test_a_form_encoded_body_gets_415_naming_json(api: Rest) -> None:
    response = api.http.post(
        "/api/v2/projects",
        content=b'{"key": "formed", "name": "Formed"}',
        headers={"Content-Type": "application/x-www-form-urlencoded"},  # curl -d without -H
    )
    message = _error(response, 415)
    assert response.json()["code"] == "unsupported_media_type"
    assert "application/x-www-form-urlencoded" in message and "application/json" in message
    assert "semanticpatch" in message


def test_json_and_semantic_patch_types_are_accepted(api: Rest, env: Env) -> None:
    key = unique("typed")
    created = api.http.post(
        f"/api/v2/flags/{env.project}",
        content=json.dumps({"key": key, "name": key}),
        headers={"Content-Type": "application/json; charset=utf-8"},
    )
    assert created.status_code == 201, created.text
    assert api.turn_on(env.project, key, env.key)["environments"][env.key]["on"] is True


# ---- SDK events: one by one, a bad one dropped and counted, the rest stored


def _summary(flag_key: str, end: int, count: Any = 1, default: Any = False, variation: Any = 0) -> dict[str, Any]:
    return {
        "kind": "summary",
        "startDate": end - 1000,
        "endDate": end,
        "features": {flag_key: {"default": default, "counters": [{"count": count, "variation": variation}]}},
    }


def _dropped(server: ServerProcess) -> int:
    count: int = httpx.get(f"{server.url}/healthz").json().get("droppedSdkEvents", 0)
    return count


def _requested(api: Rest, env: Env, flag: str) -> Any:
    response = api.http.get(f"/api/v2/flag-statuses/{env.project}/{env.key}/{flag}")
    assert response.status_code == 200, response.text
    return response.json().get("lastRequested")


def test_bad_events_are_dropped_and_counted_and_never_stop_the_flush(
    hostile_server: ServerProcess, api: Rest, env: Env
) -> None:
    first, second = unique("ev"), unique("ev")
    api.create_flag(env.project, first)
    api.create_flag(env.project, second)
    end = int(time.time() * 1000)
    bad = [
        _summary(first, end, count=10**20),
        _summary("k" * 300, end),
        _summary("a\x00b", end),
        _summary(first, end, default=float("nan")),
        _summary(first, end, count="many"),
        _summary(first, end, variation=2**40),
        "junk",
    ]
    before = _dropped(hostile_server)
    payload = json.dumps([*bad, _summary(first, end)])  # NaN written as NaN, as a broken client would
    response = httpx.post(
        f"{hostile_server.url}/bulk",
        content=payload,
        headers={"Authorization": env.sdk_key, "Content-Type": "application/json"},
    )
    assert response.status_code == 202, response.text
    wait_until(lambda: _requested(api, env, first))
    assert _dropped(hostile_server) - before == len(bad)
    # A later payload is still stored: nothing from the bad events is left to fail a flush.
    response = httpx.post(f"{hostile_server.url}/events/bulk/{env.id}", json=[_summary(second, end)])
    assert response.status_code == 202
    wait_until(lambda: _requested(api, env, second))


def test_unreadable_event_payloads_are_400(hostile_server: ServerProcess, env: Env) -> None:
    for path, headers in (("/bulk", {"Authorization": env.sdk_key}), (f"/events/bulk/{env.id}", {})):
        response = httpx.post(f"{hostile_server.url}{path}", content=b"[" * 10_000, headers=headers)
        assert _error(response, 400), path
        response = httpx.post(f"{hostile_server.url}{path}", content=b"\x1f\x8b garbage", headers=headers)
        assert response.status_code == 400, path
    gz = {"Content-Encoding": "gzip"}
    truncated = zlib.compress(b"[]")[:-3]
    assert httpx.post(f"{hostile_server.url}/events/bulk/{env.id}", content=truncated, headers=gz).status_code == 400
