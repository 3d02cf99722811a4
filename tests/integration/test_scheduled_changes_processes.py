"""Scheduled changes and expiring targets run when they fall due, exactly once, while two server
processes (two schedulers) share one store: each change executed once and not early, a change whose
instructions no longer apply recorded as failed (with its reason and an audit entry, still readable),
and an expiring target removed at its date, which SDKs then see."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import launchdarkly_api
import pytest
from launchdarkly_api.api.feature_flags_api import FeatureFlagsApi
from launchdarkly_api.api.scheduled_changes_api import ScheduledChangesApi

from tests.support.approvals import PRODUCTION, Arena, conformance_problems
from tests.support.databases import fresh_postgres_database
from tests.support.sdk import wait_until
from tests.support.server import ServerProcess

pytestmark = pytest.mark.slow
INTERVAL = "0.2"  # seconds between scheduler runs in each process
LEAD_MS = 5000  # how far ahead everything is scheduled: long enough to arrange it all first
FLAGS = [f"due-{i}" for i in range(4)]


class _sqlite:  # noqa: N801 - a context manager like fresh_postgres_database
    def __init__(self, tmp_path: Path) -> None:
        self.url = f"sqlite:///{tmp_path / 'shared.db'}"

    def __enter__(self) -> str:
        return self.url

    def __exit__(self, *exc: object) -> None:
        return None


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


def _schedule(arena: Arena, server: ServerProcess, flag: str, when: int, *instructions: dict[str, Any]) -> str:
    client = ScheduledChangesApi(arena.recorder.client(server.url, server.admin_token))
    body = launchdarkly_api.PostFlagScheduledChangesInput(execution_date=when, instructions=list(instructions))
    created = client.post_flag_config_scheduled_changes(arena.project, flag, PRODUCTION, body)
    return str(created.id)


def _sdk_targets(arena: Arena, flag: str) -> list[dict[str, Any]]:
    sdk_key = arena.http.get(f"/api/v2/projects/{arena.project}/environments/{PRODUCTION}").json()["apiKey"]
    payload = httpx.get(f"{arena.base_url}/sdk/latest-all", headers={"Authorization": sdk_key}).json()
    targets: list[dict[str, Any]] = payload["flags"][flag]["targets"]
    return targets


def test_changes_and_expiries_due_together_each_run_once_across_two_schedulers(
    two_servers: tuple[ServerProcess, ServerProcess],
) -> None:
    first, second = two_servers
    arena = Arena(first.url, first.admin_token)
    arena.create_project()
    for flag in [*FLAGS, "doomed", "fails", "victim"]:
        arena.create_flag(flag)
    true_id = arena.get_flag("victim")["variations"][0]["_id"]
    arena.change("victim", PRODUCTION, {"kind": "addTargets", "variationId": true_id, "values": ["alice", "bob"]})
    when = int(time.time() * 1000) + LEAD_MS

    changes = {
        flag: _schedule(arena, (first, second)[i % 2], flag, when, {"kind": "turnFlagOn"})
        for i, flag in enumerate(FLAGS)
    }
    doomed_true = arena.get_flag("doomed")["variations"][0]["_id"]
    failing = _schedule(
        arena, second, "fails", when, {"kind": "addPrerequisite", "key": "doomed", "variationId": doomed_true}
    )
    assert arena.http.delete(f"/api/v2/flags/{arena.project}/doomed").status_code == 204
    expiry = {
        "kind": "addExpiringTarget",
        "value": when,
        "variationId": true_id,
        "contextKey": "alice",
        "contextKind": "user",
    }
    flags_api = FeatureFlagsApi(arena.client(first.admin_token))
    patched = flags_api.patch_expiring_targets(
        arena.project, PRODUCTION, "victim", launchdarkly_api.PatchFlagsRequest(instructions=[expiry])
    )
    assert (patched.total_instructions, patched.failed_instructions, len(patched.items)) == (1, 0, 1)
    listed = flags_api.get_expiring_context_targets(arena.project, PRODUCTION, "victim")
    assert [(t.context_key, t.expiration_date, t.variation_id) for t in listed.items] == [("alice", when, true_id)]
    assert int(time.time() * 1000) < when, "arranging took longer than the lead; raise LEAD_MS"
    before = {flag: arena.get_flag(flag) for flag in FLAGS}

    scheduled = ScheduledChangesApi(arena.client(first.admin_token))

    def status(flag: str, change_id: str) -> str:
        path = f"/api/v2/projects/{arena.project}/flags/{flag}/environments/{PRODUCTION}/scheduled-changes/{change_id}"
        return str(arena.http.get(path).json().get("status"))  # flagward's field; the client drops it

    def settled() -> bool:
        pending = [f for f, c in [*changes.items(), ("fails", failing)] if status(f, c) == "pending"]
        expiring = flags_api.get_expiring_context_targets(arena.project, PRODUCTION, "victim").items
        return not pending and not expiring

    wait_until(settled, timeout=LEAD_MS / 1000 + 20, interval=0.1)
    time.sleep(float(INTERVAL) * 5)  # both schedulers get several more chances to run anything twice

    for flag, change_id in changes.items():
        assert status(flag, change_id) == "completed"
        production = arena.get_flag(flag)["environments"][PRODUCTION]
        assert production["on"] is True
        assert production["version"] == before[flag]["environments"][PRODUCTION]["version"] + 1
        assert production["lastModified"] >= when  # not early
        entries = [e for e in arena.audit(arena.flag_spec(flag)) if e.get("titleVerb") == "updated"]
        executed = [e for e in entries if "updateOn" in {a["action"] for a in e["accesses"]}]
        assert len(executed) == 1, executed
        assert {"updateScheduledChanges", "updateOn"} <= {a["action"] for a in executed[0]["accesses"]}

    failed = scheduled.get_feature_flag_scheduled_change(arena.project, "fails", PRODUCTION, failing)
    assert status("fails", failing) == "failed"
    assert "doomed" in failed.conflicts[0]["reason"]
    assert arena.get_flag("fails")["environments"][PRODUCTION]["prerequisites"] == []
    failures = [e for e in arena.audit(arena.flag_spec("fails")) if "failed" in e["titleVerb"]]
    assert len(failures) == 1 and "doomed" in failures[0]["comment"]

    victim = arena.get_flag("victim")["environments"][PRODUCTION]
    assert victim["targets"] == [{"contextKind": "user", "variation": 0, "values": ["bob"]}]
    assert [t["values"] for t in _sdk_targets(arena, "victim")] == [["bob"]]
    removals = [e for e in arena.audit(arena.flag_spec("victim")) if "updateExpiringTargets" in str(e["accesses"])]
    assert (
        len([e for e in removals if e["titleVerb"] == "updated"]) == 1
    )  # removed once (setting it is 'updated the expiring targets of')
    assert conformance_problems(arena.recorder) == []
    arena.close()
