"""The view a step answers with (create, review, apply, flag-scoped and top-level) is built from what the
step read (``approval_queries.view_of`` with ``Seen``), not read again: it must be exactly what a read of
the request answers right after, conflicts and review status included."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import event

from tests.support.accounts import unique
from tests.support.inprocess import ADMIN, World, in_process_world

SEMANTIC = {"Content-Type": "application/json; domain-model=launchdarkly.semanticpatch"}


@pytest.fixture
def world(store_url: str) -> Iterator[World]:
    with in_process_world(store_url) as world:
        yield world


def _ok(response: Any, status: int = 200) -> dict[str, Any]:
    assert response.status_code == status, response.text
    return dict(response.json())


def _project(world: World) -> str:
    key = unique("p")
    envs = [{"key": k, "name": k, "color": "00AA00"} for k in ("production", "staging")]
    _ok(
        world.client.post("/api/v2/projects", json={"key": key, "name": key, "environments": envs}, headers=_admin()),
        201,
    )
    patch = [{"op": "replace", "path": "/approvalSettings/required", "value": True}]
    _ok(world.client.patch(f"/api/v2/projects/{key}/environments/production", json=patch, headers=_admin()))
    _ok(world.client.post(f"/api/v2/flags/{key}", json={"key": "f", "name": "f"}, headers=_admin()), 201)
    body = {"environmentKey": "staging", "instructions": [{"kind": "turnFlagOn"}]}
    _ok(world.client.patch(f"/api/v2/flags/{key}/f", json=body, headers={**_admin(), **SEMANTIC}))
    return key


def _admin() -> dict[str, str]:
    return {"Authorization": ADMIN}


def test_each_step_answers_what_a_read_of_the_request_answers_next(world: World) -> None:
    project = _project(world)
    reviewer = {"Authorization": world.writers[0]}
    base = f"/api/v2/projects/{project}/flags/f/environments/production"
    copy = {"description": "copy", "source": {"key": "staging"}}
    first = _ok(world.client.post(f"{base}/approval-requests-flag-copy", json=copy, headers=_admin()), 201)
    assert first == _ok(world.client.get(f"{base}/approval-requests/{first['_id']}", headers=_admin()))
    # A second open request on the same flag: the first one's view lists the overlap as a conflict.
    change = {"description": "other", "instructions": [{"kind": "turnFlagOn"}]}
    second = _ok(world.client.post(f"{base}/approval-requests", json=change, headers=_admin()), 201)
    read = _ok(world.client.get(f"{base}/approval-requests/{second['_id']}", headers=_admin()))
    assert second == read
    assert second["conflicts"], "the two open requests overlap"

    reviewed = _ok(
        world.client.post(
            f"{base}/approval-requests/{first['_id']}/reviews", json={"kind": "approve"}, headers=reviewer
        )
    )
    assert reviewed == _ok(world.client.get(f"{base}/approval-requests/{first['_id']}", headers=_admin()))
    assert reviewed["reviewStatus"] == "approved"

    applied = _ok(world.client.post(f"{base}/approval-requests/{first['_id']}/apply", json={}, headers=_admin()))
    assert applied == _ok(world.client.get(f"{base}/approval-requests/{first['_id']}", headers=_admin()))
    assert applied["status"] == "completed" and applied["conflicts"] == []

    top = "/api/v2/approval-requests"
    third = _ok(
        world.client.post(
            top, json={**change, "resourceId": f"proj/{project}:env/production:flag/f"}, headers=_admin()
        ),
        201,
    )
    assert third == _ok(world.client.get(f"{top}/{third['_id']}", headers=_admin()))
    reviewed = _ok(world.client.post(f"{top}/{third['_id']}/reviews", json={"kind": "approve"}, headers=reviewer))
    assert reviewed == _ok(world.client.get(f"{top}/{third['_id']}", headers=_admin()))
    applied = _ok(world.client.post(f"{top}/{third['_id']}/apply", json={}, headers=_admin()))
    assert applied == _ok(world.client.get(f"{top}/{third['_id']}", headers=_admin()))


@contextmanager
def _statements(world: World) -> Iterator[list[str]]:
    seen: list[str] = []

    def _statement(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        seen.append(" ".join(statement.split()))

    engine = world.services.engine
    event.listen(engine, "before_cursor_execute", _statement)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", _statement)


def test_creating_and_applying_a_request_read_its_environment_once(world: World) -> None:
    """Creating a copy request stores it under the ids of the environment it read (no second lookup of
    them); applying one reads the project's environments once, under the project's lock, for the
    request's settings and the write's gate alike."""
    project = _project(world)
    reviewer = {"Authorization": world.writers[0]}
    base = f"/api/v2/projects/{project}/flags/f/environments/production"
    copy = {"description": "copy", "source": {"key": "staging"}}
    with _statements(world) as created:
        request = _ok(world.client.post(f"{base}/approval-requests-flag-copy", json=copy, headers=_admin()), 201)
    _ok(
        world.client.post(
            f"{base}/approval-requests/{request['_id']}/reviews", json={"kind": "approve"}, headers=reviewer
        )
    )
    with _statements(world) as applied:
        done = _ok(world.client.post(f"{base}/approval-requests/{request['_id']}/apply", json={}, headers=_admin()))
    assert done["status"] == "completed"

    def environment_reads(statements: list[str]) -> list[str]:
        return [s for s in statements if s.startswith(("SELECT environments.", "SELECT projects.id, environments.id"))]

    assert len(environment_reads(created)) == 1, environment_reads(created)
    assert len(environment_reads(applied)) == 1, environment_reads(applied)
