"""Real databases for tests: a SQLite file per test, or a fresh PostgreSQL database per test.

PostgreSQL comes from ``FLAGWARD_TEST_POSTGRES_URL`` (e.g. ``postgresql://postgres@127.0.0.1:5432/postgres``).
Without it PostgreSQL tests skip, unless ``FLAGWARD_REQUIRE_POSTGRES=1`` (CI sets it), where they fail.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest
from sqlalchemy.engine import Engine, make_url

from flagward.storage.engine import make_engine
from flagward.storage.migrate import upgrade

POSTGRES_ENV = "FLAGWARD_TEST_POSTGRES_URL"


def postgres_admin_url() -> str:
    url = os.environ.get(POSTGRES_ENV)
    if not url:
        if os.environ.get("FLAGWARD_REQUIRE_POSTGRES") == "1":
            pytest.fail(f"{POSTGRES_ENV} is not set, and PostgreSQL tests must run here")
        pytest.skip(f"{POSTGRES_ENV} is not set")
    return url


def _libpq(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


@contextmanager
def fresh_postgres_database() -> Iterator[str]:
    """Create an empty database, yield its URL, drop it afterwards."""
    admin = postgres_admin_url()
    name = f"flagward_test_{secrets.token_hex(6)}"
    with psycopg.connect(_libpq(admin), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = make_url(admin).set(database=name).render_as_string(hide_password=False)
    try:
        yield url
    finally:
        with psycopg.connect(_libpq(admin), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def database_url(kind: str, tmp_path: Path) -> Iterator[str]:
    if kind == "sqlite":
        yield f"sqlite:///{tmp_path / 'flagward.db'}"
    else:
        with fresh_postgres_database() as url:
            yield url


@contextmanager
def migrated_engine(kind: str, tmp_path: Path) -> Iterator[Engine]:
    """An engine on a fresh, migrated store of ``kind`` (``database_url``), disposed of afterwards."""
    with database_url(kind, tmp_path) as url:
        engine = make_engine(url)
        upgrade(engine)
        try:
            yield engine
        finally:
            engine.dispose()
