"""Concurrent writers never lose an update: 16 clients each send 50 semantic patches (``addTargets`` of
distinct keys) to one flag. On PostgreSQL two server processes share one database and the clients are
spread over both; on SQLite one process serves them all. Afterwards every key is targeted, the
configuration's version rose by exactly 800, the audit log holds 800 entries for the flag, and its hash
chain is intact.

No client retries: a lost race must not surface as a 409 or 503. (Flags are locked ``FOR UPDATE`` on
PostgreSQL and SQLite write transactions begin ``IMMEDIATE``, so writers queue instead of failing.)
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
import pytest

from flagward.storage.audit_verify import verify
from flagward.storage.engine import make_engine
from tests.support.accounts import unique
from tests.support.databases import database_url
from tests.support.server import ServerProcess

CLIENTS = 16
PATCHES = 50
SEMANTIC = "application/json; domain-model=launchdarkly.semanticpatch"


@pytest.fixture(
    params=[
        pytest.param(("sqlite", 1), id="sqlite-1-process"),
        pytest.param(("postgres", 2), id="postgres-2-processes", marks=pytest.mark.postgres),
    ]
)
def servers(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, list[ServerProcess]]]:
    kind, count = request.param
    with database_url(kind, tmp_path) as url, ExitStack() as stack:
        # One after the other: the first applies the migrations the second then finds in place.
        processes = [stack.enter_context(ServerProcess(database_url=url, workdir=tmp_path)) for _ in range(count)]
        yield url, processes


def _writer(
    server: ServerProcess, project: str, flag: str, variation: str, client: int, start: threading.Barrier
) -> list[str]:
    """Send this client's patches; returns what went wrong (nothing, when all is well)."""
    problems = []
    with httpx.Client(base_url=server.url, headers={"Authorization": server.admin_token}, timeout=120) as http:
        start.wait()
        for n in range(PATCHES):
            body = {
                "environmentKey": "production",
                "instructions": [{"kind": "addTargets", "values": [f"c{client}-{n}"], "variationId": variation}],
            }
            response = http.patch(
                f"/api/v2/flags/{project}/{flag}", content=json.dumps(body), headers={"Content-Type": SEMANTIC}
            )
            if response.status_code != 200:
                problems.append(f"client {client} patch {n}: {response.status_code} {response.text}")
    return problems


def _audit_entries(http: httpx.Client, spec: str) -> list[dict[str, Any]]:
    """Every entry ``spec`` selects, paging with ``before``."""
    entries: list[dict[str, Any]] = []
    params: dict[str, Any] = {"spec": spec, "limit": 20}
    while True:
        response = http.get("/api/v2/auditlog", params=params)
        assert response.status_code == 200, response.text
        page = response.json()["items"]
        entries += page
        if len(page) < 20:
            return entries
        params["before"] = page[-1]["date"]


def test_concurrent_semantic_patches_lose_nothing(servers: tuple[str, list[ServerProcess]]) -> None:
    url, processes = servers
    first = processes[0]
    project, flag = unique("race"), "contended"
    with httpx.Client(base_url=first.url, headers={"Authorization": first.admin_token}, timeout=60) as http:
        assert http.post("/api/v2/projects", json={"key": project, "name": project}).status_code == 201
        created = http.post(f"/api/v2/flags/{project}", json={"key": flag, "name": flag}).json()
        variation = created["variations"][0]["_id"]
        start = threading.Barrier(CLIENTS)
        with ThreadPoolExecutor(CLIENTS) as pool:
            futures = [
                pool.submit(_writer, processes[i % len(processes)], project, flag, variation, i, start)
                for i in range(CLIENTS)
            ]
            problems = [p for f in futures for p in f.result()]
        assert problems == []
        for server in processes:  # every process sees the same, complete result
            result = httpx.get(
                f"{server.url}/api/v2/flags/{project}/{flag}", headers={"Authorization": server.admin_token}
            )
            production = result.json()["environments"]["production"]
            targeted = {key for target in production["targets"] for key in target["values"]}
            assert targeted == {f"c{c}-{n}" for c in range(CLIENTS) for n in range(PATCHES)}
            assert production["version"] == created["environments"]["production"]["version"] + CLIENTS * PATCHES
            assert result.json()["_version"] == created["_version"] + CLIENTS * PATCHES
        entries = _audit_entries(http, f"proj/{project}:env/production:flag/{flag}")
    assert len(entries) == len({e["_id"] for e in entries}) == CLIENTS * PATCHES
    assert {e["accesses"][0]["action"] for e in entries} == {"updateTargets"}
    engine = make_engine(url)
    try:
        checked, breaks = verify(engine)
    finally:
        engine.dispose()
    assert breaks == [] and checked > CLIENTS * PATCHES
