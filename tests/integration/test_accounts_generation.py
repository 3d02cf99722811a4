"""Authenticated actors are kept per process (``services.actor_cache``) only while no account changed:
every change to tokens, members, teams or custom roles replaces the accounts generation in its own
transaction (``storage.accounts_generation``), so a revoked token or a narrowed role is in force from
its commit, in this process and in every other one."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import event
from sqlalchemy.sql import Select
from sqlalchemy.sql.util import find_tables

from flagward.domain.accounts import hash_token
from flagward.services import auth
from flagward.storage.accounts_generation import ACCOUNT_TABLES
from tests.support.accounts import unique
from tests.support.databases import fresh_postgres_database
from tests.support.inprocess import ADMIN, World, in_process_world
from tests.support.server import ServerProcess

ADMIN_HEADERS = {"Authorization": ADMIN}
VIEW_PROJECTS = [{"effect": "allow", "actions": ["viewProject"], "resources": ["proj/*"]}]


@pytest.fixture
def world(store_url: str) -> Iterator[World]:
    with in_process_world(store_url) as world:
        yield world


def _generation(world: World) -> str | None:
    with world.services.deps.uow(write=False) as uow:
        return uow.meta.accounts_generation()


def _cached(world: World, token: str) -> bool:
    return world.services.deps.actors.get(hash_token(token), _generation(world)) is not None


def _projects(client: Any, token: str) -> int:
    return int(client.get("/api/v2/projects", headers={"Authorization": token}).status_code)


def test_an_actor_is_served_from_memory_until_its_token_is_deleted(world: World) -> None:
    token = world.token("writer")
    assert _projects(world.client, token) == 200  # its first use is recorded (lastUsed): a new generation
    assert _projects(world.client, token) == 200
    assert _cached(world, token)
    assert _projects(world.client, token) == 200

    token_id = world.client.get("/api/v2/tokens", headers=ADMIN_HEADERS).json()["items"][-1]["_id"]
    assert world.client.delete(f"/api/v2/tokens/{token_id}", headers=ADMIN_HEADERS).status_code == 204
    assert not _cached(world, token)
    assert _projects(world.client, token) == 401


def test_a_role_narrowed_or_withdrawn_is_in_force_at_the_next_request(world: World) -> None:
    key = unique("viewer")
    body = {"key": key, "name": key, "policy": VIEW_PROJECTS}
    role = world.client.post("/api/v2/roles", json=body, headers=ADMIN_HEADERS)
    assert role.status_code == 201, role.text
    created = world.client.post(
        "/api/v2/tokens",
        json={"name": unique("t"), "serviceToken": True, "role": "reader", "customRoleIds": [role.json()["_id"]]},
        headers=ADMIN_HEADERS,
    )
    assert created.status_code == 201, created.text
    token = str(created.json()["token"])
    assert _projects(world.client, token) == 200
    assert _projects(world.client, token) == 200
    assert _cached(world, token)

    deny = [{"op": "replace", "path": "/policy", "value": [{**VIEW_PROJECTS[0], "effect": "deny"}]}]
    patched = world.client.patch(f"/api/v2/roles/{key}", json=deny, headers=ADMIN_HEADERS)
    assert patched.status_code == 200, patched.text
    assert _projects(world.client, token) == 403

    writer = world.token("writer")
    assert _projects(world.client, writer) == 200
    tokens = world.client.get("/api/v2/tokens", headers=ADMIN_HEADERS).json()["items"]
    writer_id = next(t["_id"] for t in tokens if t["token"].endswith(writer[-4:]) and t["role"] == "writer")
    reader = [{"op": "replace", "path": "/role", "value": "reader"}]
    assert world.client.patch(f"/api/v2/tokens/{writer_id}", json=reader, headers=ADMIN_HEADERS).status_code == 200
    body = {"key": unique("p"), "name": "P", "environments": []}
    refused = world.client.post("/api/v2/projects", json=body, headers={"Authorization": writer})
    assert refused.status_code == 403, refused.text


def test_a_change_elsewhere_is_not_read_as_an_account_change(world: World) -> None:
    token = world.token("admin")
    assert _projects(world.client, token) == 200
    assert _projects(world.client, token) == 200
    before = _generation(world)
    body = {"key": unique("p"), "name": "P", "environments": [{"key": "e", "name": "E", "color": "00AA00"}]}
    assert world.client.post("/api/v2/projects", json=body, headers={"Authorization": token}).status_code == 201
    assert _generation(world) == before
    assert _cached(world, token)


def test_a_cached_actor_costs_one_statement_and_on_postgresql_no_transaction(world: World) -> None:
    """Checking a cached actor is on every authenticated request: on PostgreSQL it is the generation's
    one SELECT in autocommit, without the BEGIN and ROLLBACK round trips of a read transaction."""
    token = world.token("writer")
    assert _projects(world.client, token) == 200
    assert _projects(world.client, token) == 200  # lastUsed is written once: the actor is now cached
    seen: list[tuple[str, bool]] = []

    def _statement(conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        seen.append(
            (
                statement.split(maxsplit=1)[0].upper(),
                bool(getattr(conn.connection.driver_connection, "autocommit", False)),
            )
        )

    engine = world.services.engine
    event.listen(engine, "before_cursor_execute", _statement)
    try:
        actor = auth.authenticate_token(world.services.deps, token)
    finally:
        event.remove(engine, "before_cursor_execute", _statement)
    assert actor.token_id is not None
    if engine.dialect.name == "postgresql":
        assert seen == [("SELECT", True)]
    else:
        assert [s for s, _ in seen] == ["BEGIN", "SELECT"]  # SQLite: a local read transaction


def test_building_an_actor_reads_only_account_tables(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    """If the actor comes to depend on another table, a change to it must replace the generation too:
    this fails until the table is in ``ACCOUNT_TABLES``."""
    read: set[str] = set()
    building = [False]

    def _statement(_conn: Any, clause: Any, *_: Any) -> None:
        if building[0] and isinstance(clause, Select):
            read.update(t.name for t in find_tables(clause, include_joins=True) if hasattr(t, "name"))

    original = auth._token_actor

    def _watched(*args: Any) -> Any:
        building[0] = True
        try:
            return original(*args)
        finally:
            building[0] = False

    monkeypatch.setattr(auth, "_token_actor", _watched)
    event.listen(world.services.engine, "before_execute", _statement)
    try:
        key = unique("viewer")
        role = world.client.post(
            "/api/v2/roles", json={"key": key, "name": key, "policy": VIEW_PROJECTS}, headers=ADMIN_HEADERS
        ).json()
        team = {"key": unique("team"), "name": "Team", "customRoleKeys": [key]}
        assert world.client.post("/api/v2/teams", json=team, headers=ADMIN_HEADERS).status_code == 201
        body = {"name": unique("t"), "serviceToken": True, "role": "reader", "customRoleIds": [role["_id"]]}
        custom = str(world.client.post("/api/v2/tokens", json=body, headers=ADMIN_HEADERS).json()["token"])
        for token in (ADMIN, custom, world.token("reader")):
            world.services.deps.actors.clear()
            assert _projects(world.client, token) in (200, 403)
    finally:
        event.remove(world.services.engine, "before_execute", _statement)
    assert {"tokens", "members"} <= read
    assert read <= ACCOUNT_TABLES, sorted(read - ACCOUNT_TABLES)


@contextlib.contextmanager
def _two_servers(tmp_path: Path) -> Iterator[tuple[ServerProcess, ServerProcess]]:
    with fresh_postgres_database() as url:
        first = ServerProcess(database_url=url, workdir=tmp_path / "a")
        second = ServerProcess(database_url=url, workdir=tmp_path / "b")
        first.workdir.mkdir()
        second.workdir.mkdir()
        first.start()
        try:
            second.start()
            try:
                yield first, second
            finally:
                second.stop()
        finally:
            first.stop()


@pytest.mark.postgres
def test_a_token_revoked_through_one_process_is_refused_by_another_that_cached_it(tmp_path: Path) -> None:
    with _two_servers(tmp_path) as (first, second):
        admin = {"Authorization": first.admin_token}
        with httpx.Client(base_url=first.url) as a, httpx.Client(base_url=second.url) as b:
            made = a.post("/api/v2/tokens", json={"name": "t", "role": "writer", "serviceToken": True}, headers=admin)
            assert made.status_code == 201, made.text
            token, token_id = str(made.json()["token"]), made.json()["_id"]
            assert _projects(b, token) == 200
            assert _projects(b, token) == 200  # now from the second process's memory

            reader = [{"op": "replace", "path": "/role", "value": "reader"}]
            assert a.patch(f"/api/v2/tokens/{token_id}", json=reader, headers=admin).status_code == 200
            body = {"key": unique("p"), "name": "P", "environments": []}
            assert b.post("/api/v2/projects", json=body, headers={"Authorization": token}).status_code == 403

            assert a.delete(f"/api/v2/tokens/{token_id}", headers=admin).status_code == 204
            assert _projects(b, token) == 401
