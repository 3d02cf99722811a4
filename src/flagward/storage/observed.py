"""Store gauges computed when Prometheus scrapes (``flagward.metrics``): approval requests per project and
environment, the outbox's depth, oldest undelivered age and dead messages, and the PostgreSQL pool.

One grouped query per table, at most once every few seconds however often and by whom the process is
scraped (``CachedCollector``). Approval series are bounded: the ``MAX_ENVIRONMENTS`` project/environment
pairs with the most requests are named, the rest are summed under ``_other``.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from sqlalchemy import Connection, Engine, case, func, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import QueuePool

from flagward.domain.outbox import MessageStatus
from flagward.metrics import CachedCollector
from flagward.storage.records import ApprovalRequestRecord, EnvironmentRecord, OutboxRecord, ProjectRecord

log = logging.getLogger("flagward.metrics")

MAX_ENVIRONMENTS = 100
OTHER = "_other"


def store_collector(engine: Engine, *, ttl_seconds: float = 5.0) -> CachedCollector:
    return CachedCollector(lambda: read(engine), ttl_seconds=ttl_seconds)


def read(engine: Engine) -> list[Metric]:
    found: list[Metric] = [*_pool(engine)]
    try:
        with engine.connect() as connection:
            found += _approvals(connection)
            found += _outbox(connection)
    except SQLAlchemyError as exc:  # a scrape must not fail because the store is away: gauges go missing
        log.warning("metrics: could not read the store: %s", exc)
        found.append(GaugeMetricFamily("flagward_store_up", "Whether the last scrape could read the store", value=0))
    else:
        found.append(GaugeMetricFamily("flagward_store_up", "Whether the last scrape could read the store", value=1))
    return found


def _pool(engine: Engine) -> list[Metric]:
    pool = engine.pool
    if engine.dialect.name != "postgresql" or not isinstance(pool, QueuePool):
        return []
    in_use = GaugeMetricFamily("flagward_pg_pool_in_use", "PostgreSQL connections checked out of the pool")
    in_use.add_metric([], pool.checkedout())
    size = GaugeMetricFamily(
        "flagward_pg_pool_size", "PostgreSQL connections the pool holds now (idle and in use, overflow included)"
    )
    size.add_metric([], pool.checkedin() + pool.checkedout())
    limit = GaugeMetricFamily("flagward_pg_pool_max", "Most PostgreSQL connections the pool may hold (with overflow)")
    limit.add_metric([], pool.size() + pool._max_overflow)
    return [in_use, size, limit]


def _approvals(connection: Connection) -> list[Metric]:
    reviews = case(
        (ApprovalRequestRecord.decline_count > 0, "declined"),
        (ApprovalRequestRecord.approval_count > 0, "approved"),
        else_="none",
    )
    query = (
        select(ProjectRecord.key, EnvironmentRecord.key, ApprovalRequestRecord.status, reviews, func.count())
        .join(EnvironmentRecord, EnvironmentRecord.id == ApprovalRequestRecord.environment_id)
        .join(ProjectRecord, ProjectRecord.id == ApprovalRequestRecord.project_id)
        .group_by(ProjectRecord.key, EnvironmentRecord.key, ApprovalRequestRecord.status, reviews)
    )
    rows = connection.execute(query).all()
    totals: dict[tuple[str, str], int] = defaultdict(int)
    for project, environment, _status, _reviews, count in rows:
        totals[(project, environment)] += count
    named = set(sorted(totals, key=lambda pair: (-totals[pair], pair))[:MAX_ENVIRONMENTS])
    counts: dict[tuple[str, str, str, str], int] = defaultdict(int)
    for project, environment, status, review, count in rows:
        pair = (project, environment) if (project, environment) in named else (OTHER, OTHER)
        counts[(*pair, status, review)] += count
    family = GaugeMetricFamily(
        "flagward_approval_requests",
        "Approval requests by project, environment, status (pending, scheduled, completed, failed) and reviews "
        "(declined: at least one decline; approved: at least one approval and no decline; none). "
        f"Beyond {MAX_ENVIRONMENTS} project/environment pairs, the rest under _other.",
        labels=["project", "environment", "status", "reviews"],
    )
    for labels, count in sorted(counts.items()):
        family.add_metric(list(labels), count)
    return [family]


def _outbox(connection: Connection) -> list[Metric]:
    query = select(
        OutboxRecord.kind,
        OutboxRecord.status,
        func.count(),
        func.min(OutboxRecord.created_at),
    ).group_by(OutboxRecord.kind, OutboxRecord.status)
    rows = connection.execute(query.where(OutboxRecord.status != MessageStatus.SENT.value)).all()
    depth = GaugeMetricFamily(
        "flagward_outbox_pending", "Outbox messages not delivered yet (including retries), by kind", labels=["kind"]
    )
    oldest = GaugeMetricFamily(
        "flagward_outbox_oldest_pending_age_seconds",
        "Age of the oldest undelivered outbox message, by kind",
        labels=["kind"],
    )
    dead = GaugeMetricFamily(
        "flagward_outbox_dead", "Outbox messages that ran out of attempts (dead), by kind", labels=["kind"]
    )
    now_ms = time.time_ns() // 1_000_000
    for kind, status, count, first in rows:
        if status == MessageStatus.DEAD.value:
            dead.add_metric([kind], count)
        else:
            depth.add_metric([kind], count)
            oldest.add_metric([kind], max(now_ms - first, 0) / 1000)
    return [depth, oldest, dead]
