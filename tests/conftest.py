"""Shared fixtures: store URLs for both dialects and real server processes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.databases import database_url
from tests.support.server import ServerProcess

pytest_plugins = ["tests.support.conformance"]

STORES = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@pytest.fixture(params=STORES)
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty store of each kind, for one test."""
    with database_url(request.param, tmp_path) as url:
        yield url


@pytest.fixture(scope="module", params=STORES)
def module_store_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A fresh store of each kind, shared by the tests of one module (they use distinct keys)."""
    with database_url(request.param, tmp_path_factory.mktemp("store")) as url:
        yield url


@pytest.fixture(scope="module")
def server(module_store_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """A real ``flagward serve`` process, shared by a module, on SQLite and on PostgreSQL."""
    with ServerProcess(database_url=module_store_url, workdir=tmp_path_factory.mktemp("server")) as process:
        yield process
