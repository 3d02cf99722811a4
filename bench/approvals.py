"""Approval-request throughput and latency against a running flagward, on SQLite or PostgreSQL.

Seeds one project with 1,000 flags in 5 environments (production requires one approval), then measures
create-copy-request (staging → production), review (approve) and apply, one request at a time for
latency and with 8 concurrent clients for throughput: first with no other pending requests, then again
after 10,000 pending requests were created on *other* flags. Flags on their own show that the cost of
an approval does not grow with pending requests elsewhere.

Run from the repository root:

    python -m bench.approvals --store sqlite
    python -m bench.approvals --store postgres --postgres-url postgresql://postgres@127.0.0.1:5432/postgres

Figures go to stdout and bench/results/approvals-<store>.json; BENCHMARKS.md records them.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
from tests.support.databases import fresh_postgres_database
from tests.support.server import ServerProcess

from bench._common import percentile, report

PROJECT = "bench"
ENVS = ["production", "staging", "qa", "dev", "perf"]
SEMANTIC = {"Content-Type": "application/json; domain-model=launchdarkly.semanticpatch"}


def _check(response: httpx.Response, status: int = 200) -> dict[str, Any]:
    if response.status_code != status:
        raise RuntimeError(f"{response.request.method} {response.request.url}: {response.status_code} {response.text}")
    return response.json() if response.content else {}


def seed(admin: httpx.Client, flags: int, workers: int) -> str:
    """The project, the flags, production's approval rule, and a reviewer (a writer service token)."""
    environments = [{"key": k, "name": k.title(), "color": "00AA00"} for k in ENVS]
    _check(admin.post("/api/v2/projects", json={"key": PROJECT, "name": "Bench", "environments": environments}), 201)
    patch = [{"op": "replace", "path": "/approvalSettings/required", "value": True}]
    _check(admin.patch(f"/api/v2/projects/{PROJECT}/environments/production", json=patch))

    def create(i: int) -> None:
        key = f"flag-{i:04d}"
        _check(admin.post(f"/api/v2/flags/{PROJECT}", json={"key": key, "name": key}), 201)
        rule = {"kind": "addRule", "clauses": [{"attribute": "email", "op": "endsWith", "values": ["@example.com"]}]}
        flag = _check(admin.get(f"/api/v2/flags/{PROJECT}/{key}"))
        rule["variationId"] = flag["variations"][0]["_id"]
        body = {"environmentKey": "staging", "instructions": [{"kind": "turnFlagOn"}, rule]}
        _check(admin.patch(f"/api/v2/flags/{PROJECT}/{key}", json=body, headers=SEMANTIC))

    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(create, range(flags)))
    token = _check(admin.post("/api/v2/tokens", json={"name": "reviewer", "role": "writer", "serviceToken": True}), 201)
    return str(token["token"])


def add_pending(admin: httpx.Client, count: int, flag_range: range, workers: int) -> None:
    """``count`` pending requests spread over ``flag_range`` (flags the measurement does not touch)."""

    def one(i: int) -> None:
        key = f"flag-{flag_range[i % len(flag_range)]:04d}"
        body = {"description": f"pending {i}", "instructions": [{"kind": "turnFlagOn"}]}
        path = f"/api/v2/projects/{PROJECT}/flags/{key}/environments/production/approval-requests"
        _check(admin.post(path, json=body), 201)

    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(one, range(count)))


def _timed(action: Callable[[], Any]) -> float:
    start = time.perf_counter()
    action()
    return (time.perf_counter() - start) * 1000


def measure(admin: httpx.Client, reviewer: httpx.Client, keys: list[str], concurrency: int) -> dict[str, Any]:
    """Create a copy request, approve it and apply it for each flag; latencies per step in ms."""
    ids: dict[str, str] = {}

    def base(key: str) -> str:
        return f"/api/v2/projects/{PROJECT}/flags/{key}/environments/production"

    def create(key: str) -> float:
        def call() -> None:
            body = {"description": f"promote {key}", "source": {"key": "staging"}}
            ids[key] = _check(admin.post(f"{base(key)}/approval-requests-flag-copy", json=body), 201)["_id"]

        return _timed(call)

    def review(key: str) -> float:
        return _timed(
            lambda: _check(reviewer.post(f"{base(key)}/approval-requests/{ids[key]}/reviews", json={"kind": "approve"}))
        )

    def apply(key: str) -> float:
        return _timed(lambda: _check(admin.post(f"{base(key)}/approval-requests/{ids[key]}/apply", json={})))

    results: dict[str, Any] = {}
    for name, step in (("create_copy_request", create), ("review", review), ("apply", apply)):
        start = time.perf_counter()
        if concurrency == 1:
            latencies = [step(k) for k in keys]
        else:
            with ThreadPoolExecutor(concurrency) as pool:
                latencies = list(pool.map(step, keys))
        elapsed = time.perf_counter() - start
        results[name] = {
            "n": len(keys),
            "p50_ms": round(percentile(latencies, 50), 2),
            "p99_ms": round(percentile(latencies, 99), 2),
            "per_second": round(len(keys) / elapsed, 1),
        }
    return results


@contextmanager
def store(kind: str, workdir: Path) -> Iterator[str]:
    if kind == "sqlite":
        yield f"sqlite:///{workdir / 'bench.db'}"
    else:
        with fresh_postgres_database() as url:
            yield url


def run(args: argparse.Namespace, server: ServerProcess) -> dict[str, Any]:
    n = args.samples
    groups = [[f"flag-{i:04d}" for i in range(g * n, (g + 1) * n)] for g in range(4)]
    with (
        httpx.Client(base_url=server.url, headers={"Authorization": server.admin_token}, timeout=60) as admin,
    ):
        started = time.perf_counter()
        reviewer_token = seed(admin, args.flags, args.concurrency)
        seeded = time.perf_counter() - started
        with httpx.Client(base_url=server.url, headers={"Authorization": reviewer_token}, timeout=60) as reviewer:
            phases: dict[str, Any] = {"pending_0": {}, f"pending_{args.pending}": {}}
            phases["pending_0"]["sequential"] = measure(admin, reviewer, groups[0], 1)
            phases["pending_0"]["concurrent"] = measure(admin, reviewer, groups[1], args.concurrency)
            started = time.perf_counter()
            add_pending(admin, args.pending, range(4 * n, args.flags), args.concurrency)
            pending_seconds = time.perf_counter() - started
            after = phases[f"pending_{args.pending}"]
            after["sequential"] = measure(admin, reviewer, groups[2], 1)
            after["concurrent"] = measure(admin, reviewer, groups[3], args.concurrency)
    return {
        "seed_seconds": round(seeded, 1),
        "pending_requests_seed_seconds": round(pending_seconds, 1),
        "phases": phases,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--store", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--postgres-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--flags", type=int, default=1000)
    parser.add_argument("--pending", type=int, default=10_000)
    parser.add_argument("--samples", type=int, default=100, help="requests per step and phase")
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()
    os.environ.setdefault("FLAGWARD_TEST_POSTGRES_URL", args.postgres_url)
    with (
        tempfile.TemporaryDirectory() as tmp,
        store(args.store, Path(tmp)) as url,
        ServerProcess(database_url=url, workdir=Path(tmp)) as server,
    ):
        results = run(args, server)
    report(
        f"approvals-{args.store}",
        {
            "store": args.store,
            "flags": args.flags,
            "environments": len(ENVS),
            "concurrency": args.concurrency,
            **results,
        },
    )


if __name__ == "__main__":
    main()
