"""Every Prometheus metric flagward exports, in one place (served at ``GET /metrics``).

The metrics live in one registry (``REGISTRY``, not the client library's global one, so tests and other
libraries cannot mix theirs in) and depend on nothing but ``prometheus_client``: any layer may count
here. SDK hot paths only increment counters and gauges (tens of nanoseconds); whatever needs the store
is computed at scrape time by collectors registered in ``bootstrap`` (``add_collector``).

Labels never carry secrets, keys or context attributes: route templates, methods, status classes,
environment kinds, outcomes, and project/environment keys for governance gauges (bounded).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

__all__ = ["CONTENT_TYPE_LATEST", "REGISTRY", "Collector", "render", "use_store_collector"]

REGISTRY = CollectorRegistry(auto_describe=True)

# 1 ms to 10 s, roughly three buckets a decade.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
# Schedules and fan-out: 1 ms to a few minutes.
LAG_BUCKETS = (0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 300.0)

# ---- HTTP (REST API, console, docs: everything but the SDK endpoints)

http_requests = Counter(
    "flagward_http_requests",
    "HTTP requests served, by route template, method and status class (SDK endpoints: flagward_sdk_*)",
    ["route", "method", "status"],
    registry=REGISTRY,
)
http_duration = Histogram(
    "flagward_http_request_duration_seconds",
    "Time to serve an HTTP request, by route template and method",
    ["route", "method"],
    buckets=LATENCY_BUCKETS,
    registry=REGISTRY,
)

# ---- SDK delivery

sdk_streams = Gauge(
    "flagward_sdk_streams_connected",
    "SDK streams open on this process, by environment kind (server: /all and /flags; client: /eval, /meval)",
    ["kind"],
    registry=REGISTRY,
)
sdk_stream_events = Counter(
    "flagward_sdk_stream_events_sent", "Events (and heartbeats) written to SDK streams", registry=REGISTRY
)
sdk_slow_readers = Counter(
    "flagward_sdk_slow_readers_dropped",
    "SDK streams closed because their reader fell too far behind (the SDK reconnects)",
    registry=REGISTRY,
)
sdk_fanout_duration = Histogram(
    "flagward_sdk_fanout_seconds",
    "Time to hand one change to every stream of its environment (written to each connection, or queued)",
    buckets=LATENCY_BUCKETS,
    registry=REGISTRY,
)
sdk_payload_builds = Counter(
    "flagward_sdk_payload_builds",
    "SDK payloads serialized (once per change, then shared)",
    ["payload"],
    registry=REGISTRY,
)
sdk_payload_duration = Histogram(
    "flagward_sdk_payload_build_seconds",
    "Time to build an SDK payload (JSON map, gzip form, ETag, put event)",
    ["payload"],
    buckets=LATENCY_BUCKETS,
    registry=REGISTRY,
)
sdk_compiles = Counter(
    "flagward_sdk_compiles",
    "Flags and segments compiled for evaluation: once per version by the SDK hub, and per request by the REST "
    "evaluate endpoint for what the hub does not hold at the version read",
    ["kind"],
    registry=REGISTRY,
)
sdk_latest_all = Counter(
    "flagward_sdk_latest_all_responses",
    "/sdk/latest-all responses by status (200 or 304)",
    ["status"],
    registry=REGISTRY,
)
sdk_requests = Counter(
    "flagward_sdk_requests",
    "SDK requests other than streams and /sdk/latest-all, by endpoint group (no access log line for them)",
    ["endpoint"],
    registry=REGISTRY,
)

# ---- governance

approval_applies = Counter(
    "flagward_approval_applies",
    "Approval requests applied (manually or on schedule), by trigger and outcome (applied or failed)",
    ["trigger", "outcome"],
    registry=REGISTRY,
)
scheduled_lag = Histogram(
    "flagward_scheduled_execution_lag_seconds",
    "How late scheduled approval requests executed, behind their executionDate",
    buckets=LAG_BUCKETS,
    registry=REGISTRY,
)

# ---- store

store_transaction = Histogram(
    "flagward_store_transaction_seconds",
    "Duration of store transactions (units of work), by kind (read or write)",
    ["kind"],
    buckets=LATENCY_BUCKETS,
    registry=REGISTRY,
)
project_lock_escalations = Counter(
    "flagward_project_lock_escalations",
    "Writes of one flag begun under their project's shared lock that needed the exclusive one and ran again",
    registry=REGISTRY,
)
store_conflicts = Counter(
    "flagward_store_optimistic_lock_conflicts",
    "Transactions that lost to a concurrent one (409 to the client, or retried later by the scheduler)",
    registry=REGISTRY,
)
sqlite_busy_waits = Counter(
    "flagward_sqlite_busy_waits",
    "SQLite write transactions that waited over 1 ms for another writer (in this process's writer queue, "
    "or in BEGIN IMMEDIATE for another process)",
    registry=REGISTRY,
)
sqlite_busy_wait_seconds = Histogram(
    "flagward_sqlite_busy_wait_seconds",
    "How long SQLite write transactions waited for the write lock, when they waited",
    buckets=LATENCY_BUCKETS,
    registry=REGISTRY,
)
fanout_lag = Histogram(
    "flagward_fanout_lag_seconds",
    "PostgreSQL LISTEN/NOTIFY: time from a commit's NOTIFY in any process to its arrival in this one",
    buckets=LAG_BUCKETS,
    registry=REGISTRY,
)


_store: Collector | None = None


def use_store_collector(collector: Collector | None) -> None:
    """Make ``collector`` the scrape-time collector of the store's gauges (approvals, pool, outbox),
    replacing the previous one: a process serves one store."""
    global _store  # noqa: PLW0603 -- the process's one registry holds one store collector
    if _store is not None:
        REGISTRY.unregister(_store)
    _store = collector
    if collector is not None:
        REGISTRY.register(collector)


def store_collector_is(collector: Collector) -> bool:
    return _store is collector


# Called before every rendering: counters kept as plain integers on a hot path (``http.sdk.fastpath``) are
# added to their Prometheus counters then, instead of taking a counter's lock on every request.
_before_render: list[Callable[[], None]] = []


def before_render(flush: Callable[[], None]) -> None:
    _before_render.append(flush)


def render() -> bytes:
    """The registry in the Prometheus text format."""
    for flush in _before_render:
        flush()
    return generate_latest(REGISTRY)


class CachedCollector(Collector):
    """A collector whose (store-reading) ``read`` runs at most once every ``ttl_seconds``: a scrape of
    every process every few seconds costs at most one cheap query each."""

    def __init__(self, read: Callable[[], list[Metric]], *, ttl_seconds: float = 5.0) -> None:
        self._read = read
        self._ttl = ttl_seconds
        self._at = float("-inf")
        self._cached: list[Metric] = []

    def collect(self) -> Iterable[Metric]:
        now = time.monotonic()
        if now - self._at >= self._ttl:
            self._cached = self._read()
            self._at = now
        return list(self._cached)

    def describe(self) -> Iterable[Metric]:
        return []  # computed at scrape time: no fixed description
