"""``flagward serve`` starts on any account: several processes at once on a fresh PostgreSQL database,
on an account whose owners are all gone, and on an account whose owner is not ``FLAGWARD_OWNER_EMAIL``."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text

from flagward.bootstrap import build_services
from flagward.config import Settings
from flagward.domain.accounts import Role
from flagward.services.auth import ensure_owner_and_admin_token
from flagward.services.ports import Deps, MemberQuery, Page
from flagward.storage.engine import make_engine
from tests.support.databases import fresh_postgres_database
from tests.support.server import ServerProcess

pytestmark = pytest.mark.slow


def _owner_emails(deps: Deps) -> list[str]:
    with deps.uow(write=False) as uow:
        owners, _ = uow.members.find(MemberQuery(roles=(Role.OWNER.value,)))
    return sorted(m.email for m in owners)


def _remove_every_owner(url: str) -> None:
    """The state two owners demoting each other used to leave behind."""
    engine = make_engine(url)
    try:
        with engine.begin() as connection:
            connection.execute(text("UPDATE members SET role = 'admin' WHERE role = 'owner'"))
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_two_processes_starting_together_on_a_fresh_postgres_both_come_up(tmp_path: Path) -> None:
    with fresh_postgres_database() as url:
        servers = [ServerProcess(database_url=url, workdir=tmp_path) for _ in range(2)]
        try:
            with ThreadPoolExecutor(2) as pool:
                for future in [pool.submit(server.start, timeout=60) for server in servers]:
                    future.result()
            for server in servers:
                response = httpx.get(f"{server.url}/api/v2/members", headers={"Authorization": server.admin_token})
                assert response.status_code == 200, response.text
                owners = [m for m in response.json()["items"] if m["role"] == "owner"]
                assert [m["email"] for m in owners] == ["owner@localhost"]
                tokens = httpx.get(f"{server.url}/api/v2/tokens", headers={"Authorization": server.admin_token})
                assert tokens.status_code == 200 and tokens.json()["totalCount"] == 1
        finally:
            for server in servers:
                server.stop()


@pytest.mark.postgres
def test_concurrent_owner_bootstraps_on_an_empty_account_make_one_owner() -> None:
    """What every starting process runs, by 6 threads at once, 10 times over (the account emptied in
    between): none fails, and there is one owner and one admin token."""
    with fresh_postgres_database() as url:
        services = build_services(Settings(database_url=url))
        try:
            failures: list[str] = []
            for attempt in range(10):
                with services.engine.begin() as connection:
                    connection.execute(text("TRUNCATE members, tokens, meta CASCADE"))
                start = threading.Barrier(6)

                def bootstrap(attempt: int = attempt, start: threading.Barrier = start) -> None:
                    start.wait()
                    ensure_owner_and_admin_token(
                        services.deps, owner_email="owner@localhost", admin_token=f"admin-token-{attempt:032d}"
                    )

                with ThreadPoolExecutor(6) as pool:
                    futures = [pool.submit(bootstrap) for _ in range(6)]
                    failures += [f"{attempt}: {f.exception()!r}" for f in futures if f.exception() is not None]
                assert _owner_emails(services.deps) == ["owner@localhost"]
                with services.deps.uow(write=False) as uow:
                    assert len(uow.tokens.find(None, Page(limit=10))[0]) == 1
            assert failures == []
        finally:
            services.close()


def test_serve_starts_on_an_account_without_an_owner_and_restores_one(store_url: str, tmp_path: Path) -> None:
    services = build_services(Settings(database_url=store_url))
    try:
        deps = services.deps
        assert ensure_owner_and_admin_token(deps, owner_email="boss@example.com", admin_token=None) is not None
        _remove_every_owner(store_url)
        env = {"FLAGWARD_OWNER_EMAIL": "boss@example.com"}
        with ServerProcess(database_url=store_url, workdir=tmp_path, extra_env=env) as server:
            assert _owner_emails(deps) == ["boss@example.com"]
            # The admin token is owned by the restored owner and works.
            response = httpx.get(f"{server.url}/api/v2/auditlog", headers={"Authorization": server.admin_token})
            assert response.status_code == 200, response.text
            entries = [e for e in response.json()["items"] if e["kind"] == "member"]
            assert "had no owner" in entries[0]["description"]
            assert entries[0]["accesses"][0]["action"] == "updateRole"
    finally:
        services.close()


def test_the_owner_bootstrap_keeps_an_existing_owner_and_adds_one_only_when_none_is_left(store_url: str) -> None:
    services = build_services(Settings(database_url=store_url))
    try:
        deps = services.deps
        first = ensure_owner_and_admin_token(deps, owner_email="boss@example.com", admin_token=None)
        assert first is not None and first.admin_token_secret is not None and not first.restored
        # Another owner email on an account that has an owner: nothing changes.
        assert ensure_owner_and_admin_token(deps, owner_email="else@example.com", admin_token=None) is None
        assert _owner_emails(deps) == ["boss@example.com"]
        # An admin token of a given value is added once, for the existing owner.
        added = ensure_owner_and_admin_token(deps, owner_email="else@example.com", admin_token="t" * 40)
        assert added is not None and added.owner.email == "boss@example.com"
        assert ensure_owner_and_admin_token(deps, owner_email="else@example.com", admin_token="t" * 40) is None
        # No owner left and the owner email names nobody: that member is added, as the owner.
        _remove_every_owner(store_url)
        restored = ensure_owner_and_admin_token(deps, owner_email="else@example.com", admin_token="t" * 40)
        assert restored is not None and restored.restored and restored.owner.email == "else@example.com"
        assert _owner_emails(deps) == ["else@example.com"]
    finally:
        services.close()
