"""A flag trigger fired 20 times at once, across two ``flagward serve`` processes sharing one PostgreSQL
database (and, on SQLite, its one process), acts exactly once in its window: one call is answered
``acted: true``, the others ``acted: false``; the trigger counts one firing and the flag's version rises
by one, with one audit entry."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from tests.integration.test_approvals_concurrency import _pair
from tests.support.accounts import unique
from tests.support.databases import fresh_postgres_database
from tests.support.server import ServerProcess

pytestmark = pytest.mark.slow
CALLS = 20
FLAG = "contended"
# A window far longer than the test, so that every call falls into the first one.
LONG_WINDOW = {"FLAGWARD_TRIGGER_WINDOW_SECONDS": "3600"}


@pytest.fixture(params=[pytest.param("postgres", marks=pytest.mark.postgres), "sqlite"])
def two_servers(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[ServerProcess, ServerProcess]]:
    if request.param == "postgres":
        with fresh_postgres_database() as url:
            pair = _pair(url, tmp_path)
            for process in (pair.first, pair.second):
                process.extra_env.update(LONG_WINDOW)
            with pair as servers:
                yield servers
    else:
        url = f"sqlite:///{tmp_path / 'shared.db'}"
        with ServerProcess(database_url=url, workdir=tmp_path, extra_env=LONG_WINDOW) as only:
            yield only, only


def _fire(url: str, start: threading.Barrier) -> dict[str, object]:
    with httpx.Client(timeout=60) as client:
        start.wait()
        response = client.post(url, json={"alert": "error rate"})
    assert response.status_code == 200, response.text
    answer: dict[str, object] = response.json()
    return answer


def test_20_concurrent_firings_on_two_processes_act_once(two_servers: tuple[ServerProcess, ServerProcess]) -> None:
    first, second = two_servers
    project = unique("fire")
    admin = httpx.Client(base_url=first.url, headers={"Authorization": first.admin_token}, timeout=30)
    env = {"key": "production", "name": "Production", "color": "FF0000"}
    assert admin.post("/api/v2/projects", json={"key": project, "name": project, "environments": [env]}).is_success
    assert admin.post(f"/api/v2/flags/{project}", json={"key": FLAG, "name": FLAG}).is_success
    body = {"integrationKey": "generic-trigger", "instructions": [{"kind": "turnFlagOn"}]}
    created = admin.post(f"/api/v2/flags/{project}/{FLAG}/triggers/production", json=body).json()
    secret_path = created["triggerURL"].split(first.url, 1)[1]
    before = admin.get(f"/api/v2/flags/{project}/{FLAG}").json()["_version"]

    start = threading.Barrier(CALLS)
    urls = [(first if i % 2 else second).url + secret_path for i in range(CALLS)]
    with ThreadPoolExecutor(CALLS) as pool:
        answers = list(pool.map(lambda url: _fire(url, start), urls))

    assert sorted(a["acted"] for a in answers) == [False] * (CALLS - 1) + [True]
    assert {a["triggerCount"] for a in answers} == {1}
    trigger = admin.get(f"/api/v2/flags/{project}/{FLAG}/triggers/production/{created['_id']}").json()
    assert trigger["_triggerCount"] == 1
    flag = admin.get(f"/api/v2/flags/{project}/{FLAG}").json()
    assert flag["_version"] == before + 1 and flag["environments"]["production"]["on"] is True
    spec = f"proj/{project}:env/production:flag/{FLAG}"
    entries = admin.get("/api/v2/auditlog", params={"spec": spec}).json()["items"]
    assert sum(1 for e in entries if any(a["action"] == "updateOn" for a in e["accesses"])) == 1
    admin.close()
