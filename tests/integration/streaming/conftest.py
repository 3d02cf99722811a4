"""Several real server processes on one store."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.databases import fresh_postgres_database
from tests.support.sdk import Rest, rest
from tests.support.server import ServerProcess


@pytest.fixture
def postgres_url() -> Iterator[str]:
    with fresh_postgres_database() as url:
        yield url


@pytest.fixture
def two_servers(postgres_url: str, tmp_path: Path) -> Iterator[tuple[ServerProcess, ServerProcess]]:
    """Two ``flagward serve`` processes sharing one PostgreSQL database."""
    with (
        ServerProcess(database_url=postgres_url, workdir=tmp_path) as first,
        ServerProcess(database_url=postgres_url, workdir=tmp_path) as second,
    ):
        yield first, second


@pytest.fixture
def api_b(two_servers: tuple[ServerProcess, ServerProcess]) -> Iterator[Rest]:
    """The REST API of the second process: changes are made there, SDKs listen to the first."""
    second = two_servers[1]
    with rest(second.url, second.admin_token) as client:
        yield client
