"""Scheduled approval requests run when they fall due, exactly once, while two server processes (two
schedulers) share one store: several requests due at the same moment, each executed once, none early."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import launchdarkly_api
import pytest

from tests.support.approvals import PRODUCTION, Arena
from tests.support.databases import fresh_postgres_database
from tests.support.sdk import wait_until
from tests.support.server import ServerProcess

pytestmark = pytest.mark.slow
INTERVAL = "0.2"  # seconds between scheduler runs in each process
LEAD_MS = 4000  # how far ahead the requests are scheduled: long enough to arrange them all first
REQUESTS = 6


@pytest.fixture(params=[pytest.param("postgres", marks=pytest.mark.postgres), "sqlite"])
def two_servers(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[ServerProcess, ServerProcess]]:
    """Two server processes on PostgreSQL; on SQLite, which one process serves, that process twice."""
    env = {"FLAGWARD_SCHEDULER_INTERVAL_SECONDS": INTERVAL}
    with fresh_postgres_database() if request.param == "postgres" else _sqlite(tmp_path) as url:
        first = ServerProcess(database_url=url, workdir=tmp_path, extra_env=env).start()
        try:
            if request.param == "sqlite":
                yield first, first
                return
            with ServerProcess(database_url=url, workdir=tmp_path, extra_env=env) as second:
                yield first, second
        finally:
            first.stop()


class _sqlite:  # noqa: N801 - a context manager like fresh_postgres_database
    def __init__(self, tmp_path: Path) -> None:
        self.url = f"sqlite:///{tmp_path / 'shared.db'}"

    def __enter__(self) -> str:
        return self.url

    def __exit__(self, *exc: object) -> None:
        return None


def test_requests_due_together_each_run_once_across_two_schedulers(
    two_servers: tuple[ServerProcess, ServerProcess],
) -> None:
    first, second = two_servers
    arena = Arena(first.url, first.admin_token)
    arena.create_project(required=True, minNumApprovals=1)
    requester, reviewer = arena.person(), arena.person()
    flags = [f"due-{i}" for i in range(REQUESTS)]
    for flag in flags:
        arena.create_flag(flag)
    when = int(time.time() * 1000) + LEAD_MS
    requests = {}
    for i, flag in enumerate(flags):
        body = launchdarkly_api.CreateFlagConfigApprovalRequestRequest(
            description=f"Turn {flag} on", instructions=[{"kind": "turnFlagOn"}], execution_date=when
        )
        created = arena.approvals(requester).post_approval_request_for_flag(arena.project, flag, PRODUCTION, body)
        arena.approvals(reviewer).post_approval_request_review(
            created.id, launchdarkly_api.PostApprovalRequestReviewRequest(kind="approve")
        )
        applier = Arena(second.url, second.admin_token, recorder=arena.recorder) if i % 2 else arena
        scheduled = applier.approvals(requester).post_approval_request_apply(
            created.id, launchdarkly_api.PostApprovalRequestApplyRequest(comment="at the planned time")
        )
        assert (scheduled.status, scheduled.execution_date) == ("scheduled", when)
        requests[flag] = created.id
    assert int(time.time() * 1000) < when, "arranging took longer than the lead; raise LEAD_MS"
    before = {flag: arena.get_flag(flag) for flag in flags}
    assert all(f["environments"][PRODUCTION]["on"] is False for f in before.values())

    def statuses() -> set[str]:
        listing = arena.approvals(reviewer).get_approval_requests(filter=f"projectKey equals {arena.project}")
        return {r.status for r in listing.items}

    wait_until(lambda: statuses() == {"completed"}, timeout=LEAD_MS / 1000 + 15, interval=0.1)
    time.sleep(float(INTERVAL) * 5)  # both schedulers get several more chances to run anything twice

    for flag, request_id in requests.items():
        after = arena.get_flag(flag)
        production = after["environments"][PRODUCTION]
        assert production["on"] is True
        assert production["version"] == before[flag]["environments"][PRODUCTION]["version"] + 1
        assert after["_version"] == before[flag]["_version"] + 1
        assert production["lastModified"] >= when  # not early
        entries = list(arena.audit(arena.flag_spec(flag)))
        changes = [e for e in entries if e["kind"] == "flag" and e.get("approvalRequestId") == request_id]
        applied = [e for e in entries if e["accesses"][0]["action"] == "applyApprovalRequest"]
        assert len(changes) == 1 and changes[0]["member"]["_id"] == requester.id
        assert sorted(e["titleVerb"] for e in applied) == ["applied", "scheduled"]
        fetched = arena.approvals(reviewer).get_approval_request(request_id)
        assert (fetched.status, fetched.applied_by_member_id, fetched.conflicts) == ("completed", requester.id, [])
    arena.close()
