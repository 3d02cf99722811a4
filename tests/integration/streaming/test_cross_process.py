"""Several server processes on one PostgreSQL: a change made through one process reaches the SDK streams
held by another (LISTEN/NOTIFY), and a process that loses its listening connection catches up."""

from __future__ import annotations

import time
from typing import Any

import psycopg
import pytest
from ldclient import Context

from tests.support.accounts import unique
from tests.support.databases import _libpq
from tests.support.sdk import Rest, sdk_client, stream, wait_until
from tests.support.server import ServerProcess

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


def _require_approvals(api: Rest, project: str, env: str) -> None:
    ops = [
        {"op": "replace", "path": "/approvalSettings/required", "value": True},
        {"op": "replace", "path": "/approvalSettings/canReviewOwnRequest", "value": True},
    ]
    response = api.http.patch(f"/api/v2/projects/{project}/environments/{env}", json=ops)
    assert response.status_code == 200, response.text


def test_an_approval_applied_through_another_process_reaches_the_sdk_within_one_second(
    two_servers: tuple[ServerProcess, ServerProcess], api_b: Rest
) -> None:
    first, _ = two_servers
    env = api_b.create_project()["production"]
    key = unique("gated")
    api_b.create_flag(env.project, key)
    _require_approvals(api_b, env.project, env.key)
    base = f"/api/v2/projects/{env.project}/flags/{key}/environments/{env.key}/approval-requests"
    created = api_b.http.post(base, json={"description": "turn it on", "instructions": [{"kind": "turnFlagOn"}]})
    assert created.status_code == 201, created.text
    request_id = created.json()["_id"]
    reviewed = api_b.http.post(f"{base}/{request_id}/reviews", json={"kind": "approve"})
    assert reviewed.status_code == 200, reviewed.text
    user = Context.create("reviewer")
    with sdk_client(first.url, env.sdk_key) as client:
        assert client.variation_detail(key, user, None).reason == {"kind": "OFF"}
        applied = api_b.http.post(f"{base}/{request_id}/apply", json={"comment": "go"})
        applied_at = time.monotonic()
        assert applied.status_code == 200, applied.text
        assert applied.json()["status"] == "completed"
        wait_until(lambda: client.variation_detail(key, user, None).reason == {"kind": "FALLTHROUGH"}, timeout=1.0)
        assert time.monotonic() - applied_at < 1.0


def test_every_kind_of_change_through_one_process_reaches_streams_on_the_other(
    two_servers: tuple[ServerProcess, ServerProcess], api_b: Rest
) -> None:
    first, _ = two_servers
    env = api_b.create_project()["production"]
    key, segment = unique("flag"), unique("seg")
    api_b.create_flag(env.project, key)
    with stream(first.url, env.sdk_key) as reader:
        assert reader.next().event == "put"  # type: ignore[union-attr]
        api_b.turn_on(env.project, key, env.key)
        assert reader.until(lambda e: e.event == "patch").json()["data"]["on"] is True
        api_b.create_segment(env, segment)
        assert reader.until(lambda e: e.event == "patch").json()["path"] == f"/segments/{segment}"
        api_b.delete_flag(env.project, key)
        assert reader.until(lambda e: e.event == "delete").json()["path"] == f"/flags/{key}"
        api_b.reset_sdk_key(env)
        assert reader.next() is None  # the key it used is no longer valid: the stream ends


def _terminate_listener(postgres_url: str) -> int:
    """Kill every server's LISTEN connection, as a database restart or network cut would."""
    with psycopg.connect(_libpq(postgres_url), autocommit=True) as connection:
        rows = connection.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE application_name = %s AND datname = current_database()",
            ("flagward-sdk-listener",),
        ).fetchall()
    return len(rows)


def _change_without_notifying(postgres_url: str, env_id: str, flag_key: str) -> None:
    """Turn a flag on behind the servers' backs: a change whose notification was lost."""
    with psycopg.connect(_libpq(postgres_url), autocommit=True) as connection:
        updated = connection.execute(
            """
            UPDATE flag_configs SET
                doc = jsonb_set(jsonb_set(doc, '{on}', 'true'), '{version}', to_jsonb(version + 1)),
                version = version + 1
            WHERE environment_id = %s AND flag_id = (SELECT id FROM flags WHERE key = %s)
            """,
            (env_id, flag_key),
        ).rowcount
    assert updated == 1


def test_a_process_that_loses_its_listener_reconnects_and_sends_a_fresh_put(
    two_servers: tuple[ServerProcess, ServerProcess], api_b: Rest, postgres_url: str
) -> None:
    first, _ = two_servers
    env = api_b.create_project()["production"]
    key = unique("missed")
    api_b.create_flag(env.project, key)
    user = Context.create("someone")
    with sdk_client(first.url, env.sdk_key) as client, stream(first.url, env.sdk_key) as reader:
        assert reader.next().event == "put"  # type: ignore[union-attr]
        assert client.variation_detail(key, user, None).reason == {"kind": "OFF"}
        _change_without_notifying(postgres_url, env.id, key)
        assert _terminate_listener(postgres_url) == 2
        put: Any = reader.until(lambda e: e.event == "put").json()
        assert put["data"]["flags"][key]["on"] is True
        wait_until(lambda: client.variation_detail(key, user, None).reason == {"kind": "FALLTHROUGH"})
        # And it listens again: a normal change still arrives as a patch.
        api_b.semantic_patch(env.project, key, env.key, {"kind": "turnFlagOff"})
        assert reader.until(lambda e: e.event == "patch").json()["data"]["on"] is False
