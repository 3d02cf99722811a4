"""Fan-out across server processes over PostgreSQL: ``NOTIFY flagward_sdk`` after each commit, and one
``LISTEN`` connection per process feeding its hub (this process's own events come back that way too).

A listener that loses its connection tells the hub it is disconnected (new SDK requests get 503),
reconnects with backoff, and once listening again asks the hub to reload every environment it serves and
send every stream a fresh ``put``: whatever was notified while it was away is in that reload.

Plain psycopg 3 on purpose: a LISTEN connection is a long-lived, non-pooled session that SQLAlchemy's
pool would recycle or pre-ping under us.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import threading
import time
from typing import Any

import psycopg

from flagward import metrics
from flagward.domain.events import EnvironmentChanged, Event, ItemKind, SdkItemChanged
from flagward.streaming.hub import Hub

log = logging.getLogger("flagward.streaming.pg")

CHANNEL = "flagward_sdk"
LISTENER_APPLICATION_NAME = "flagward-sdk-listener"
_MAX_PAYLOAD = 7000  # PostgreSQL refuses NOTIFY payloads of 8000 bytes or more
_HEALTH_CHECK_SECONDS = 10.0
_KEEPALIVES: dict[str, Any] = {
    "keepalives": 1,
    "keepalives_idle": 10,
    "keepalives_interval": 5,
    "keepalives_count": 3,
    "connect_timeout": 5,
}


def encode(events: list[Event]) -> list[str]:
    """NOTIFY payloads for ``events``: JSON arrays, each under PostgreSQL's size limit."""
    payloads: list[str] = []
    batch: list[str] = []
    size = 2
    sent_ms = time.time_ns() // 1_000_000  # for the receivers' fan-out lag (flagward_fanout_lag_seconds)
    for event in events:
        if isinstance(event, SdkItemChanged):
            doc: dict[str, Any] = {
                "t": "item",
                "env": event.environment_id,
                "kind": event.kind.value,
                "key": event.key,
                "version": event.version,
                "deleted": event.deleted,
                "ts": sent_ms,
            }
        else:
            doc = {
                "t": "env",
                "env": event.environment_id,
                "reset": event.reset_credentials,
                "deleted": event.deleted,
                "ts": sent_ms,
            }
        text = json.dumps(doc, separators=(",", ":"))
        if batch and size + len(text.encode()) + 1 > _MAX_PAYLOAD:
            payloads.append("[" + ",".join(batch) + "]")
            batch, size = [], 2
        batch.append(text)
        size += len(text.encode()) + 1
    if batch:
        payloads.append("[" + ",".join(batch) + "]")
    return payloads


def decode(payload: str) -> list[Event]:
    """The events of one payload; malformed entries are skipped (and logged)."""
    events: list[Event] = []
    try:
        docs = json.loads(payload)
        if docs and isinstance(docs[0], dict) and isinstance(docs[0].get("ts"), int):
            lag = time.time_ns() // 1_000_000 - docs[0]["ts"]
            metrics.fanout_lag.observe(max(lag, 0) / 1000)
        for doc in docs:
            if doc["t"] == "item":
                kind = ItemKind(doc["kind"])
                events.append(SdkItemChanged(doc["env"], kind, doc["key"], int(doc["version"]), bool(doc["deleted"])))
            elif doc["t"] == "env":
                events.append(EnvironmentChanged(doc["env"], bool(doc["reset"]), bool(doc["deleted"])))
    except (ValueError, KeyError, TypeError) as exc:
        log.error("ignoring a malformed %s notification %r: %s", CHANNEL, payload[:200], exc)
    return events


class PgNotifyBroker:
    """Implements ``services.ports.Broker`` (``publish``, from the committing thread, after the commit)
    and the listening side for this process's hub (``run``)."""

    def __init__(self, conninfo: str, *, reconnect_max_seconds: float = 5.0) -> None:
        self._conninfo = conninfo
        self._reconnect_max_seconds = reconnect_max_seconds
        self._lock = threading.Lock()
        self._connection: psycopg.Connection[Any] | None = None

    # ---- publishing

    def publish(self, events: list[Event]) -> None:
        payloads = encode(events)
        with self._lock:
            for attempt in (1, 2):
                try:
                    connection = self._publisher()
                    for payload in payloads:
                        connection.execute("SELECT pg_notify(%s, %s)", (CHANNEL, payload))
                    return
                except psycopg.Error as exc:
                    self._discard_publisher()
                    if attempt == 2:
                        # The change is committed; only the other processes' streams miss it. Their
                        # listeners are most likely cut off too, and resync when they reconnect.
                        log.error("could not notify %d SDK change(s): %s", len(events), exc)

    def _publisher(self) -> psycopg.Connection[Any]:
        if self._connection is None or self._connection.closed:
            self._connection = psycopg.connect(self._conninfo, autocommit=True, **_KEEPALIVES)
        return self._connection

    def _discard_publisher(self) -> None:
        if self._connection is not None:
            with contextlib.suppress(psycopg.Error):
                self._connection.close()
            self._connection = None

    def close(self) -> None:
        with self._lock:
            self._discard_publisher()

    # ---- listening

    async def run(self, hub: Hub) -> None:
        """Listen until cancelled, reconnecting with backoff; see the module docstring."""
        delay = 0.1
        connected_before = False
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(
                    self._conninfo, autocommit=True, application_name=LISTENER_APPLICATION_NAME, **_KEEPALIVES
                ) as connection:
                    await connection.execute(f"LISTEN {CHANNEL}")
                    hub.set_connected(True)
                    if connected_before:
                        log.warning("SDK change listener reconnected; reloading every environment")
                        hub.resync()
                    connected_before = True
                    delay = 0.1
                    await self._listen(connection, hub)
            except (psycopg.Error, OSError, TimeoutError) as exc:
                hub.set_connected(False)
                log.warning("SDK change listener lost its connection (%s); retrying in %.1fs", exc, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, self._reconnect_max_seconds)

    async def _listen(self, connection: psycopg.AsyncConnection[Any], hub: Hub) -> None:
        while True:
            async for notification in connection.notifies(timeout=_HEALTH_CHECK_SECONDS):
                hub.deliver(decode(notification.payload))
            # Quiet for a while: make sure the connection is still there (a silently dropped one
            # would otherwise leave us deaf forever).
            await asyncio.wait_for(connection.execute("SELECT 1"), timeout=_HEALTH_CHECK_SECONDS)
