"""An approved request is applied at most once, however many callers race on however many processes:
32 concurrent apply calls on one request, split across two server processes sharing one PostgreSQL
database (and, on SQLite, which one process serves, sent to that process). Exactly one call succeeds,
every other one is refused with 400, and the flag's versions rise by exactly one."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import launchdarkly_api
import pytest
from launchdarkly_api.api.approvals_api import ApprovalsApi

from tests.support import ldapi
from tests.support.approvals import PRODUCTION, Arena
from tests.support.databases import fresh_postgres_database
from tests.support.server import ServerProcess

pytestmark = pytest.mark.slow
CALLS = 32
FLAG = "contended"


@pytest.fixture(params=[pytest.param("postgres", marks=pytest.mark.postgres), "sqlite"])
def two_servers(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[ServerProcess, ServerProcess]]:
    """Two ``flagward serve`` processes on one PostgreSQL store; the one process of a SQLite store, twice."""
    if request.param == "postgres":
        with fresh_postgres_database() as url, _pair(url, tmp_path) as pair:
            yield pair
    else:
        with ServerProcess(database_url=f"sqlite:///{tmp_path / 'shared.db'}", workdir=tmp_path) as only:
            yield only, only


class _pair:  # noqa: N801 - used as a context manager, like contextlib's lower-case helpers
    def __init__(self, url: str, workdir: Path) -> None:
        self.first = ServerProcess(database_url=url, workdir=workdir)
        self.second = ServerProcess(database_url=url, workdir=workdir)

    def __enter__(self) -> tuple[ServerProcess, ServerProcess]:
        self.first.start()  # one at a time: the first creates the schema
        try:
            self.second.start()
        except BaseException:
            self.first.stop()
            raise
        return self.first, self.second

    def __exit__(self, *exc: object) -> None:
        self.second.stop()
        self.first.stop()


def _apply(
    base_url: str, token: str, project: str, request_id: str, index: int, start: threading.Barrier
) -> tuple[int, Any]:
    """One caller; even callers use the flag-scoped route, odd ones the top-level route."""
    with ldapi.client(base_url, token) as api_client:
        api = ApprovalsApi(api_client)
        body = launchdarkly_api.PostApprovalRequestApplyRequest(comment=f"caller {index}")
        start.wait()
        try:
            if index % 2:
                result: Any = api.post_approval_request_apply(request_id, body)
            else:
                result = api.post_approval_request_apply_for_flag(project, FLAG, PRODUCTION, request_id, body)
        except launchdarkly_api.ApiException as exc:
            return int(exc.status), exc.body
        return 200, result


def test_32_concurrent_applies_on_two_processes_apply_exactly_once(
    two_servers: tuple[ServerProcess, ServerProcess],
) -> None:
    first, second = two_servers
    arena = Arena(first.url, first.admin_token)
    arena.create_project(required=True, minNumApprovals=1)
    arena.create_flag(FLAG)
    requester, reviewer = arena.person(), arena.person()
    body = launchdarkly_api.CreateFlagConfigApprovalRequestRequest(
        description="Turn it on",
        instructions=[
            {"kind": "turnFlagOn"},
            {"kind": "addTargets", "values": ["ann"], "variationId": arena.get_flag(FLAG)["variations"][0]["_id"]},
        ],
    )
    request = arena.approvals(requester).post_approval_request_for_flag(arena.project, FLAG, PRODUCTION, body)
    review = launchdarkly_api.PostApprovalRequestReviewRequest(kind="approve")
    assert arena.approvals(reviewer).post_approval_request_review(request.id, review).review_status == "approved"
    before = arena.get_flag(FLAG)

    start = threading.Barrier(CALLS)
    callers = [(first if i % 4 < 2 else second, requester.token if i % 3 else reviewer.token) for i in range(CALLS)]
    with ThreadPoolExecutor(max_workers=CALLS) as pool:
        futures = [
            pool.submit(_apply, server.url, token, arena.project, request.id, i, start)
            for i, (server, token) in enumerate(callers)
        ]
        results = [f.result(timeout=120) for f in futures]

    successes = [r for status, r in results if status == 200]
    refusals = [(status, r) for status, r in results if status != 200]
    assert len(successes) == 1, results
    assert successes[0].status == "completed"
    assert {status for status, _ in refusals} == {400}, refusals
    assert all("completed" in str(body) for _, body in refusals), refusals

    after = arena.get_flag(FLAG)
    assert after["_version"] == before["_version"] + 1
    production = after["environments"][PRODUCTION]
    assert production["version"] == before["environments"][PRODUCTION]["version"] + 1
    assert production["on"] is True and production["targets"][0]["values"] == ["ann"]
    entries = list(arena.audit(arena.flag_spec(FLAG)))
    changes = [e for e in entries if e["kind"] == "flag" and e.get("approvalRequestId") == request.id]
    applies = [e for e in entries if e["accesses"][0]["action"] == "applyApprovalRequest"]
    assert (len(changes), len(applies)) == (1, 1)
    fetched = arena.approvals(reviewer).get_approval_request(request.id)
    assert (fetched.status, fetched.version) == ("completed", 3)
    arena.close()
