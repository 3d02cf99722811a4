"""Webhook delivery throughput and commit-to-delivery lag, from running flagward processes to a local
HTTP receiver, on SQLite (one process) or PostgreSQL (one or two processes sharing the store).

Each run creates ``--webhooks`` webhooks through the REST API, then a producer commits 10,000 webhook
deliveries (100 per transaction, as fast as it can) straight into the outbox, each carrying a typical
audit-entry body (~1.5 KB) for one of the webhooks in turn, while the servers' dispatchers deliver them
to a receiver in this process. The producer writes the outbox directly so that what is measured is
delivery, not the API that makes changes; its commits ring no dispatcher's doorbell, so an idle
dispatcher notices them at its next poll (``FLAGWARD_DELIVERY_POLL_SECONDS``, 0.1 s here).

- messages/s: 10,000 / (last delivery - first commit);
- lag: the receiver's time of a delivery minus the time its transaction committed (p50 / p99): with all
  10,000 committed at once it is mostly time spent waiting in the backlog; ``--rate`` offers them at a
  steady rate below what the dispatchers deliver, which shows the lag of a system that keeps up.

One webhook: its deliveries go one at a time, in order (one ordering key). Several: up to the
dispatcher's concurrency at once.

    python -m bench.webhooks --store sqlite --webhooks 1
    python -m bench.webhooks --store postgres --processes 2 --webhooks 20 --postgres-url postgresql://postgres@127.0.0.1:5432/postgres
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import httpx
from tests.support.databases import fresh_postgres_database
from tests.support.receiver import Receiver, receiving
from tests.support.server import ServerProcess

from bench._common import percentile, report
from flagward.domain.outbox import MessageKind, NewMessage
from flagward.storage.engine import make_engine
from flagward.storage.unit_of_work import SqlUnitOfWorkFactory

MESSAGES = 10_000
PER_TRANSACTION = 100
BODY = json.dumps(
    {
        "_id": "0" * 24,
        "_accountId": "1" * 24,
        "_links": {"self": {"href": "/api/v2/auditlog/x", "type": "application/json"}},
        "date": 0,
        "accesses": [{"action": "updateOn", "resource": "proj/bench:env/production:flag/checkout"}],
        "kind": "flag",
        "name": "checkout",
        "description": "- Turned on the flag",
        "shortDescription": "admin@example.com updated flag checkout",
        "titleVerb": "updated",
        "target": {"name": "checkout", "resources": ["proj/bench:env/production:flag/checkout"], "_links": {}},
        "member": {"_id": "2" * 24, "email": "admin@example.com", "role": "admin", "_links": {}},
        "previousVersion": {"on": False, "rules": [], "targets": [], "fallthrough": {"variation": 0}, "x": "y" * 400},
        "currentVersion": {"on": True, "rules": [], "targets": [], "fallthrough": {"variation": 0}, "x": "y" * 400},
    }
)


@contextmanager
def store(kind: str, postgres_url: str | None) -> Iterator[str]:
    if kind == "sqlite":
        with tempfile.TemporaryDirectory() as tmp:
            yield f"sqlite:///{tmp}/bench.db"
    else:
        if postgres_url:
            os.environ["FLAGWARD_TEST_POSTGRES_URL"] = postgres_url
        with fresh_postgres_database() as url:
            yield url


def produce(url: str, webhook_ids: list[str], rate: float) -> dict[str, float]:
    """Commit the deliveries (at most ``rate`` per second; 0: as fast as possible); each message id ->
    when its transaction committed (time.time())."""
    engine = make_engine(url)
    uow = SqlUnitOfWorkFactory(engine)
    committed: dict[str, float] = {}
    begun = time.time()
    try:
        for start in range(0, MESSAGES, PER_TRANSACTION):
            with uow() as work:
                ids = []
                for i in range(start, min(MESSAGES, start + PER_TRANSACTION)):
                    webhook = webhook_ids[i % len(webhook_ids)]
                    message = NewMessage(
                        kind=MessageKind.WEBHOOK,
                        payload={"entryId": f"e{i}", "body": BODY.replace("0" * 24, f"{i:024d}", 1)},
                        target=webhook,
                        ordering_key=f"webhook:{webhook}",
                    )
                    ids.append(work.outbox.add(message, now=int(time.time() * 1000)))
                work.commit()
            now = time.time()
            committed.update(dict.fromkeys(ids, now))
            if rate:
                time.sleep(max(0.0, begun + len(committed) / rate - time.time()))
    finally:
        engine.dispose()
    return committed


def run(args: argparse.Namespace) -> dict[str, Any]:
    env = {"FLAGWARD_WEBHOOK_ALLOW_PRIVATE": "1", "FLAGWARD_DELIVERY_POLL_SECONDS": "0.1"}
    with store(args.store, args.postgres_url) as url, receiving() as receiver, ExitStack() as stack:
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        servers = [
            stack.enter_context(ServerProcess(database_url=url, workdir=workdir, extra_env=env))
            for _ in range(args.processes)
        ]
        webhook_ids = create_webhooks(servers[0], receiver, args.webhooks)
        time.sleep(1.0)  # the webhooks' own creation entries, delivered meanwhile, are not counted
        with receiver.lock:
            receiver.accepted.clear()
            receiver.requests.clear()
        started = time.time()
        committed = produce(url, webhook_ids, args.rate)
        produced = time.time() - started
        got = receiver.wait_for(MESSAGES, timeout=900)
        ordered = in_order(got)
    mine = [r for r in got if r.headers["x-flagward-delivery"] in committed]
    lags = [max(0.0, r.at - committed[r.headers["x-flagward-delivery"]]) * 1000 for r in mine]
    first_commit = min(committed.values())
    last = max(r.at for r in mine)
    return {
        "store": args.store,
        "processes": args.processes,
        "webhooks": args.webhooks,
        "offered_rate": args.rate or "as fast as the producer commits",
        "messages": len(mine),
        "duplicates": len(got) - len({r.headers["x-flagward-delivery"] for r in got}),
        "in_order_per_webhook": ordered,
        "produce_seconds": round(produced, 2),
        "messages_per_second": round(len(mine) / (last - first_commit), 1),
        "lag_ms_p50": round(percentile(lags, 50), 1),
        "lag_ms_p99": round(percentile(lags, 99), 1),
    }


def create_webhooks(server: ServerProcess, receiver: Receiver, count: int) -> list[str]:
    ids = []
    with httpx.Client(base_url=server.url, headers={"Authorization": server.admin_token}) as client:
        for i in range(count):
            body = {
                "url": f"{receiver.url}?w={i}",
                "sign": True,
                "secret": f"secret-{i}",
                "on": True,
                "name": f"bench {i}",
            }
            response = client.post("/api/v2/webhooks", json=body)
            response.raise_for_status()
            ids.append(response.json()["_id"])
    return ids


def in_order(got: list[Any]) -> bool:
    """Whether each webhook (its URL's query names it) received its deliveries in the order they were
    committed (each body's ``_id`` is the delivery's index)."""
    last: dict[str, int] = {}
    for received in got:  # in the order the receiver accepted them
        index = int(received.json()["_id"])
        if index <= last.get(received.path, -1):
            return False
        last[received.path] = index
    return True


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--store", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--postgres-url", default=None)
    parser.add_argument("--processes", type=int, default=1)
    parser.add_argument("--webhooks", type=int, default=1)
    parser.add_argument("--rate", type=float, default=0.0, help="messages per second offered (0: all at once)")
    args = parser.parse_args()
    if args.store == "sqlite" and args.processes != 1:
        parser.error("a SQLite store is served by one process")
    result = run(args)
    paced = f"-{int(args.rate)}per-s" if args.rate else ""
    report(f"webhooks-{args.store}-{args.processes}p-{args.webhooks}w{paced}", result)


if __name__ == "__main__":
    main()
