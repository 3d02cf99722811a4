"""Engines for both stores. Every SQLite pragma carries its reason; PostgreSQL gets a pool sized for a
server process, and for the number of them sharing the server (``default_pool_size``)."""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import InvalidatePoolError, SQLAlchemyError

from flagward import metrics

WRITE_OPTION = "flagward_write"
BUSY_THRESHOLD_SECONDS = 0.001  # an uncontended BEGIN IMMEDIATE takes microseconds


def normalize_url(url: str) -> URL:
    """Accept ``postgresql://`` (psycopg 3 is our driver) and plain SQLite paths."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


# A request's service calls run in anyio's worker threads (40 by default), each holding at most one
# connection at a time: the pool keeps 20 open and opens up to 20 more under load. Connections beyond
# ``pool_size`` are closed when returned, so a pool much smaller than the concurrency reconnects
# (a PostgreSQL backend start, several ms) over and over under 32 concurrent clients.
POOL_SIZE = 20
# A connection idle for longer than this is pinged before use (see ``_ping_idle``).
PING_AFTER_IDLE_SECONDS = 1.0

# Several server processes (``flagward serve --workers N``) share one PostgreSQL server, whose
# ``max_connections`` is 100 by default (3 of them kept for superusers). By default their pools divide
# this many connections between them, each process's two connections besides its pool included, which
# leaves a default server 20 for the CLI, a psql session, monitoring and the like, up to 8 workers.
CONNECTION_BUDGET = 80
# Besides its pool, each server process holds the LISTEN connection and the NOTIFY publisher of its
# broker (``streaming.pg_notify``); its background loops (scheduler, outbox dispatcher, status poller,
# flag-status flush, /metrics) use the pool.
CONNECTIONS_BESIDES_POOL = 2
# The smallest default pool: below it a worker reconnects for most requests under load.
MIN_POOL_SIZE = 4


def default_pool_size(workers: int) -> int:
    """The pool of each of ``workers`` server processes when none is configured: ``CONNECTION_BUDGET``
    divided between them (each may open as many again as overflow, see ``make_engine``), at most the one
    process's ``POOL_SIZE`` and at least ``MIN_POOL_SIZE`` (beyond 8 workers the total then exceeds
    the budget)."""
    share = CONNECTION_BUDGET // workers - CONNECTIONS_BESIDES_POOL
    return min(POOL_SIZE, max(MIN_POOL_SIZE, share // 2))


def connections_needed(*, workers: int, pool_size: int) -> int:
    """The most PostgreSQL connections ``workers`` server processes may hold together, each with a
    pool of ``pool_size``: the pool, as many overflow connections, and its broker's."""
    return workers * (2 * pool_size + CONNECTIONS_BESIDES_POOL)


def server_max_connections(engine: Engine) -> int | None:
    """PostgreSQL's ``max_connections``; None on SQLite, or when it cannot be read (it is only reported)."""
    if engine.dialect.name != "postgresql":
        return None
    try:
        with engine.connect() as connection:
            return int(connection.exec_driver_sql("SHOW max_connections").scalar_one())
    except SQLAlchemyError:
        return None


def make_engine(url: str, *, pool_size: int = POOL_SIZE) -> Engine:
    parsed = normalize_url(url)
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(parsed)
    engine = create_engine(parsed, pool_size=pool_size, max_overflow=pool_size, pool_recycle=1800)
    _ping_idle(engine)
    return engine


def _ping_idle(engine: Engine) -> None:
    """A database restart must not surface as a failed request: a connection that sat in the pool is
    pinged before use, and a dead one is replaced (with every connection older than it). SQLAlchemy's
    ``pool_pre_ping`` pings at every checkout, one more round trip for each of a request's 2-3
    transactions; a connection returned less than a second ago was alive then, and one that died since
    fails its statement, which invalidates the pool likewise (a 503 for that request alone)."""

    @event.listens_for(engine, "checkin")
    def _checked_in(_dbapi_connection: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _checkout(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        idle_since = record.info.get("idle_since")
        if idle_since is None or time.monotonic() - idle_since < PING_AFTER_IDLE_SECONDS:
            return  # a new connection, or one in use a moment ago
        try:
            engine.dialect.do_ping(dbapi_connection)
        except engine.dialect.loaded_dbapi.Error as exc:
            raise InvalidatePoolError(str(exc)) from exc


def _sqlite_engine(url: URL) -> Engine:
    engine = create_engine(
        url,
        connect_args={"check_same_thread": False, "timeout": 30},
        pool_size=8,
        max_overflow=8,
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let us issue BEGIN ourselves (the stdlib driver's implicit BEGIN is DEFERRED, which turns a
        # read-then-write transaction into a SQLITE_BUSY deadlock under concurrent writers).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        # WAL: readers never block the writer, and the writer never blocks readers.
        cursor.execute("PRAGMA journal_mode=WAL")
        # NORMAL is durable across application crashes in WAL mode and much faster than FULL.
        cursor.execute("PRAGMA synchronous=NORMAL")
        # Foreign keys are off by default in SQLite; our cascades rely on them.
        cursor.execute("PRAGMA foreign_keys=ON")
        # Wait for the write lock instead of failing at once when another process holds it.
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        # Write transactions take the write lock up front (IMMEDIATE), so the read-modify-write of a
        # use case is serialized with other writers; read transactions stay DEFERRED and never block.
        if connection.get_execution_options().get(WRITE_OPTION):
            started = time.perf_counter()
            connection.exec_driver_sql("BEGIN IMMEDIATE")
            waited = time.perf_counter() - started
            if waited > BUSY_THRESHOLD_SECONDS:  # another writer held the lock (busy_timeout waited)
                metrics.sqlite_busy_waits.inc()
                metrics.sqlite_busy_wait_seconds.observe(waited)
        else:
            connection.exec_driver_sql("BEGIN")

    return engine
