"""``flagward serve --db-pool-size`` on PostgreSQL: the workers' engines get the configured pool (as
``/metrics`` reports it), the start says how many connections the processes may open against the server's
``max_connections`` (read from PostgreSQL), and warns when that is more than it allows."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import psycopg
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy.engine import make_url

from flagward.storage.engine import connections_needed
from tests.support.databases import fresh_postgres_database
from tests.support.server import ServerProcess

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

SCRAPES = 8  # fresh connections, spread over the workers by the kernel


@pytest.fixture
def postgres_url() -> Iterator[str]:
    with fresh_postgres_database() as url:
        yield url


def _max_connections(url: str) -> int:
    with psycopg.connect(make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)) as conn:
        row = conn.execute("SHOW max_connections").fetchone()
    assert row is not None
    return int(row[0])


def _pool_max(url: str) -> float:
    with httpx.Client(timeout=5.0) as client:  # one connection per scrape, to whichever worker takes it
        text = client.get(f"{url}/metrics", headers={"Connection": "close"}).text
    (family,) = (f for f in text_string_to_metric_families(text) if f.name == "flagward_pg_pool_max")
    return family.samples[0].value


def test_workers_get_the_configured_pool_and_the_start_says_their_total(postgres_url: str, tmp_path: Path) -> None:
    server = ServerProcess(
        database_url=postgres_url,
        workdir=tmp_path,
        extra_args=["--workers", "2", "--db-pool-size", "3"],
        extra_env={"FLAGWARD_LOG_LEVEL": "info", "FLAGWARD_LOG_FORMAT": "text"},
    )
    with server:
        # The pool and as many overflow connections, in every worker (the default would be 19 + 19).
        assert [_pool_max(server.url) for _ in range(SCRAPES)] == [6.0] * SCRAPES
    logs = server.logs()
    max_connections = _max_connections(postgres_url)
    assert (
        "PostgreSQL connections: at most 16, 2 process(es) x (pool 3 + overflow 3 + 2 for LISTEN/NOTIFY), "
        f"of max_connections {max_connections}"
    ) in logs
    assert "PostgreSQL allows" not in logs


def test_a_pool_the_server_cannot_hold_is_warned_about_at_start(postgres_url: str, tmp_path: Path) -> None:
    max_connections = _max_connections(postgres_url)
    pool = max_connections // 2  # with its overflow and the broker's two, one more than the server allows
    needed = connections_needed(workers=1, pool_size=pool)
    assert needed > max_connections
    if pool > 1000:
        pytest.skip(f"max_connections {max_connections} is beyond --db-pool-size's range")
    server = ServerProcess(
        database_url=postgres_url,
        workdir=tmp_path,
        extra_args=["--db-pool-size", str(pool)],
        extra_env={"FLAGWARD_LOG_FORMAT": "text"},
    )
    with server:  # pools open connections as needed: the server starts and serves all the same
        assert httpx.get(f"{server.url}/healthz", timeout=5.0).status_code == 200
    assert (
        f"PostgreSQL connections: this server may open {needed}, 1 process(es) x (pool {pool} + overflow {pool} "
        f"+ 2 for LISTEN/NOTIFY), but PostgreSQL allows {max_connections} (max_connections)"
    ) in server.logs()
