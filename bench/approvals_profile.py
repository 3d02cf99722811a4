"""Where an approval step's time goes: SQL statements, transactions and time inside write transactions
per request, for create-copy-request, review and apply, served in process (one request at a time).

    python -m bench.approvals_profile --store sqlite
    python -m bench.approvals_profile --store postgres --show apply     # also print apply's statements

Figures go to stdout; BENCHMARKS.md §5 records them.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import event
from tests.support.databases import fresh_postgres_database
from tests.support.inprocess import ADMIN, InProcess

from flagward.bootstrap import build_services
from flagward.config import Settings
from flagward.http.app import create_app
from flagward.services.auth import ensure_owner_and_admin_token

PROJECT = "bench"
ENVS = ["production", "staging", "qa", "dev", "perf"]
STEPS = ("create", "review", "apply")
SEMANTIC = {"Content-Type": "application/json; domain-model=launchdarkly.semanticpatch"}


class Recorder:
    def __init__(self) -> None:
        self.statements: list[str] = []
        self.transactions = 0
        self.write_transactions = 0

    def reset(self) -> None:
        self.statements = []
        self.transactions = 0
        self.write_transactions = 0


@contextmanager
def store(kind: str, workdir: Path) -> Iterator[str]:
    if kind == "sqlite":
        yield f"sqlite:///{workdir / 'bench.db'}"
    else:
        with fresh_postgres_database() as url:
            yield url


def _ok(response: Any, status: int = 200) -> dict[str, Any]:
    if response.status_code != status:
        raise RuntimeError(f"{response.request.url}: {response.status_code} {response.text}")
    return response.json() if response.content else {}


def seed(client: InProcess, flags: int) -> str:
    """The project (production requires an approval), ``flags`` flags on in staging; a reviewer's token."""
    admin = {"Authorization": ADMIN}
    environments = [{"key": k, "name": k.title(), "color": "00AA00"} for k in ENVS]
    body = {"key": PROJECT, "name": "Bench", "environments": environments}
    _ok(client.post("/api/v2/projects", json=body, headers=admin), 201)
    patch = [{"op": "replace", "path": "/approvalSettings/required", "value": True}]
    _ok(client.request("PATCH", f"/api/v2/projects/{PROJECT}/environments/production", json=patch, headers=admin))
    for i in range(flags):
        key = f"flag-{i:04d}"
        _ok(client.post(f"/api/v2/flags/{PROJECT}", json={"key": key, "name": key}, headers=admin), 201)
        body = {"environmentKey": "staging", "instructions": [{"kind": "turnFlagOn"}]}
        _ok(client.request("PATCH", f"/api/v2/flags/{PROJECT}/{key}", json=body, headers={**admin, **SEMANTIC}))
    body = {"name": "r", "role": "writer", "serviceToken": True}
    return str(_ok(client.post("/api/v2/tokens", json=body, headers=admin), 201)["token"])


def step(client: InProcess, name: str, key: str, request_id: str, reviewer: str) -> str:
    """One step on ``key``'s production; the request's id."""
    base = f"/api/v2/projects/{PROJECT}/flags/{key}/environments/production"
    admin = {"Authorization": ADMIN}
    if name == "create":
        body = {"description": "d", "source": {"key": "staging"}}
        return str(_ok(client.post(f"{base}/approval-requests-flag-copy", json=body, headers=admin), 201)["_id"])
    if name == "review":
        path = f"{base}/approval-requests/{request_id}/reviews"
        _ok(client.post(path, json={"kind": "approve"}, headers={"Authorization": reviewer}))
    else:
        _ok(client.post(f"{base}/approval-requests/{request_id}/apply", json={}, headers=admin))
    return request_id


@contextmanager
def sampled(out: str | None) -> Iterator[None]:
    """Sample this process with py-spy ``--gil`` (where the CPU goes) while the block runs."""
    if not out:
        yield
        return
    exe = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    command = [exe, "record", "--gil", "--rate", "250", "--format", "raw", "-o", out, "--pid", str(os.getpid())]
    spy = subprocess.Popen(command)
    time.sleep(1.0)
    try:
        yield
    finally:
        spy.send_signal(signal.SIGINT)
        spy.wait(timeout=60)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--store", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--postgres-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--flags", type=int, default=20)
    parser.add_argument("--py-spy", default=None, help="record the steps with py-spy --gil into this file")
    parser.add_argument("--show", choices=STEPS, action="append", default=[])
    args = parser.parse_args()
    os.environ.setdefault("FLAGWARD_TEST_POSTGRES_URL", args.postgres_url)
    with tempfile.TemporaryDirectory() as tmp, store(args.store, Path(tmp)) as url:
        # Background loops off: only the steps' own statements are counted.
        settings = Settings(database_url=url, scheduler_interval_seconds=3600, flag_status_flush_seconds=3600)
        services = build_services(settings)
        ensure_owner_and_admin_token(services.deps, owner_email="owner@example.com", admin_token=ADMIN)
        client = InProcess(create_app(services.settings, services.deps, services.sdk))
        rec = Recorder()

        @event.listens_for(services.engine, "before_cursor_execute")
        def _stmt(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
            rec.statements.append(" ".join(statement.split())[:160])

        @event.listens_for(services.engine, "begin")
        def _begin(conn: Any) -> None:
            rec.transactions += 1
            if conn.get_execution_options().get("flagward_write"):
                rec.write_transactions += 1

        reviewer = seed(client, args.flags)
        totals: dict[str, Counter[str]] = {name: Counter() for name in STEPS}
        times: dict[str, list[float]] = {name: [] for name in STEPS}
        cpu: dict[str, list[float]] = {name: [] for name in STEPS}
        with sampled(args.py_spy):
            for i in range(args.flags):
                request_id = ""
                for name in STEPS:
                    rec.reset()
                    started, cpu_started = time.perf_counter(), time.process_time()
                    request_id = step(client, name, f"flag-{i:04d}", request_id, reviewer)
                    times[name].append((time.perf_counter() - started) * 1000)
                    cpu[name].append((time.process_time() - cpu_started) * 1000)
                    totals[name].update(
                        statements=len(rec.statements),
                        transactions=rec.transactions,
                        write_transactions=rec.write_transactions,
                    )
                    if i == args.flags - 1 and name in args.show:
                        print(f"--- {name}: {len(rec.statements)} statements, {rec.transactions} transactions")
                        for statement in rec.statements:
                            print("   ", statement)
        print(f"store {args.store}, {args.flags} flags, one request at a time, in process")
        for name, counts in totals.items():
            print(
                f"{name:<7} statements/request {counts['statements'] / args.flags:5.1f}  "
                f"transactions {counts['transactions'] / args.flags:4.1f} "
                f"(write {counts['write_transactions'] / args.flags:3.1f})  "
                f"median {statistics.median(times[name]):6.1f} ms, CPU {statistics.median(cpu[name]):5.1f} ms"
            )
        client.close()
        services.close()


if __name__ == "__main__":
    main()
