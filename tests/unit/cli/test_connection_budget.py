"""The PostgreSQL connections of ``flagward serve --workers N``: each process's default pool is its share
of a budget that fits PostgreSQL's default ``max_connections`` (100) up to 8 workers, an explicit
``--db-pool-size`` wins, and the start warns when the processes together may open more than the server's
``max_connections``."""

from __future__ import annotations

import logging

import pytest

from flagward.bootstrap import pool_size
from flagward.cli.serve import log_connection_budget
from flagward.config import Settings
from flagward.storage.engine import CONNECTION_BUDGET, connections_needed, default_pool_size

POSTGRES_DEFAULT_MAX_CONNECTIONS = 100
POSTGRES_SUPERUSER_RESERVED = 3


@pytest.mark.parametrize(
    ("workers", "expected"), [(1, 20), (2, 19), (3, 12), (4, 9), (5, 7), (6, 5), (7, 4), (8, 4), (16, 4)]
)
def test_the_default_pool_divides_the_budget_between_the_workers(workers: int, expected: int) -> None:
    assert default_pool_size(workers) == expected


@pytest.mark.parametrize("workers", range(1, 9))
def test_up_to_8_workers_the_default_total_leaves_room_on_a_default_postgresql(workers: int) -> None:
    total = connections_needed(workers=workers, pool_size=default_pool_size(workers))
    assert total <= CONNECTION_BUDGET
    # Room for the CLI, a psql session and monitoring beside the superusers' reserved connections.
    assert POSTGRES_DEFAULT_MAX_CONNECTIONS - POSTGRES_SUPERUSER_RESERVED - total >= 10


def test_each_process_counts_its_pool_as_much_overflow_and_its_two_broker_connections() -> None:
    assert connections_needed(workers=1, pool_size=20) == 42
    assert connections_needed(workers=3, pool_size=5) == 36


def test_a_configured_pool_size_wins_over_the_default(monkeypatch: pytest.MonkeyPatch) -> None:
    assert pool_size(Settings(workers=4)) == 9
    assert pool_size(Settings(workers=4, db_pool_size=3)) == 3
    monkeypatch.setenv("FLAGWARD_DB_POOL_SIZE", "7")
    assert pool_size(Settings(workers=4)) == 7


def test_a_pool_size_below_1_is_refused() -> None:
    with pytest.raises(ValueError, match="db_pool_size"):
        Settings(db_pool_size=0)


def test_more_connections_than_max_connections_is_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="flagward.serve")
    log_connection_budget(Settings(workers=3, db_pool_size=10), max_connections=50)
    (record,) = caplog.records
    assert record.levelno == logging.WARNING
    message = record.getMessage()
    assert "may open 66, 3 process(es) x (pool 10 + overflow 10 + 2 for LISTEN/NOTIFY)" in message
    assert "PostgreSQL allows 50 (max_connections)" in message
    assert "--db-pool-size" in message


def test_a_budget_within_max_connections_is_said_at_info(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="flagward.serve")
    log_connection_budget(Settings(workers=3, db_pool_size=10), max_connections=66)
    (record,) = caplog.records
    assert record.levelno == logging.INFO
    assert "at most 66" in record.getMessage() and "max_connections 66" in record.getMessage()


def test_nothing_is_said_without_a_max_connections(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="flagward.serve")
    log_connection_budget(Settings(workers=3), max_connections=None)  # SQLite, or it could not be read
    assert caplog.records == []
