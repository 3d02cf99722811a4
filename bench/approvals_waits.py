"""What PostgreSQL's backends wait on while ``bench.approvals``'s concurrent clients run, that phase only.

It seeds a store and starts one ``flagward serve`` exactly as ``bench.approvals`` does, warms it with one
client, then samples ``pg_stat_activity`` (every ``--interval-ms``) for as long as the ``--clients``
phase runs: on average, how many of the store's backends were running a statement, waiting for a lock
(which lock mode, which statement), waiting for the client ("idle in transaction": the server's Python,
which under load means its GIL), or in I/O. Samples taken while seeding would show the flags' creation
instead, which is why ``bench.approvals`` cannot be sampled from outside.

    python -m bench.approvals_waits [--clients 8] [--samples 400]

The summary goes to stdout and to bench/results/approvals-waits.json (``--label``).
"""

from __future__ import annotations

import argparse
import os
import threading
import time
from collections import Counter
from contextlib import ExitStack
from typing import Any

import psycopg
from sqlalchemy.engine import make_url

from bench import approvals
from bench._common import report

_ACTIVITY = """
SELECT a.state, a.wait_event_type, a.wait_event, left(a.query, 70),
       (SELECT string_agg(l.mode, ',') FROM pg_locks l WHERE l.pid = a.pid AND NOT l.granted)
FROM pg_stat_activity a
WHERE a.backend_type = 'client backend' AND a.datname = current_database() AND a.pid <> pg_backend_pid()
"""


def _kind(state: str, wait_type: str | None, wait: str | None, query: str, waiting: str | None) -> str:
    if state == "idle in transaction":
        return "idle in transaction (waiting for the server process)"
    if state != "active":
        return ""
    statement = " ".join(query.split())[:60]
    if wait_type == "Lock":
        return f"lock {wait} {waiting or ''}: {statement}"
    if wait_type is None:
        return "running a statement"
    return f"{wait_type} {wait}"


class Sampler:
    def __init__(self, url: str, interval: float) -> None:
        self._url = url
        self._interval = interval
        self._stop = threading.Event()
        self.samples = 0
        self.counts: Counter[str] = Counter()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Sampler:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        with psycopg.connect(self._url, autocommit=True) as connection:
            while not self._stop.is_set():
                rows = connection.execute(_ACTIVITY).fetchall()
                self.samples += 1
                for row in rows:
                    kind = _kind(*row)
                    if kind:
                        self.counts[kind] += 1
                time.sleep(self._interval)

    def averages(self) -> dict[str, float]:
        return {k: round(v / max(self.samples, 1), 2) for k, v in self.counts.most_common()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--postgres-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--samples", type=int, default=400, help="requests per step")
    parser.add_argument("--interval-ms", type=float, default=2.0)
    parser.add_argument("--label", default="approvals-waits")
    args = parser.parse_args()
    os.environ.setdefault("FLAGWARD_TEST_POSTGRES_URL", args.postgres_url)
    setting = argparse.Namespace(
        flags=20, samples=args.samples, clients=[args.clients], pending=0, pending_flags=0, py_spy=None
    )
    with ExitStack() as stack:
        target = approvals.open_target(stack, setting, "postgres", None)
        libpq = make_url(target.url).set(drivername="postgresql").render_as_string(hide_password=False)
        target.measure(setting, 1)  # warm: the statements prepared, the pool filled
        with Sampler(libpq, args.interval_ms / 1000) as sampler:
            steps = target.measure(setting, args.clients)
    latencies: dict[str, Any] = {k: v for k, v in steps.items() if isinstance(v, dict) and "p99_ms" in v}
    waits = sampler.averages()
    report(
        args.label,
        {"clients": args.clients, "samples": sampler.samples, "backends_on_average": waits, "steps": latencies},
    )
    print()
    print(f"{args.clients} clients, {sampler.samples} samples of pg_stat_activity; backends on average:")
    for kind, average in waits.items():
        print(f"  {average:5.2f}  {kind}")
    overall = latencies.get("overall", {})
    print(f"steps overall: p50 {overall.get('p50_ms')} ms, p99 {overall.get('p99_ms')} ms")


if __name__ == "__main__":
    main()
