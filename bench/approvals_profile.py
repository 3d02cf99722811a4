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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--store", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--postgres-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--flags", type=int, default=20)
    parser.add_argument("--py-spy", default=None, help="record the steps with py-spy --gil into this file")
    parser.add_argument("--show", choices=["create", "review", "apply"], action="append", default=[])
    args = parser.parse_args()
    os.environ.setdefault("FLAGWARD_TEST_POSTGRES_URL", args.postgres_url)
    with tempfile.TemporaryDirectory() as tmp, store(args.store, Path(tmp)) as url:
        services = build_services(Settings(database_url=url))
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

        admin = {"Authorization": ADMIN}
        environments = [{"key": k, "name": k.title(), "color": "00AA00"} for k in ENVS]
        body = {"key": PROJECT, "name": "Bench", "environments": environments}
        _ok(client.post("/api/v2/projects", json=body, headers=admin), 201)
        patch = [{"op": "replace", "path": "/approvalSettings/required", "value": True}]
        _ok(client.request("PATCH", f"/api/v2/projects/{PROJECT}/environments/production", json=patch, headers=admin))
        for i in range(args.flags):
            key = f"flag-{i:04d}"
            _ok(client.post(f"/api/v2/flags/{PROJECT}", json={"key": key, "name": key}, headers=admin), 201)
            body = {"environmentKey": "staging", "instructions": [{"kind": "turnFlagOn"}]}
            _ok(client.request("PATCH", f"/api/v2/flags/{PROJECT}/{key}", json=body, headers={**admin, **SEMANTIC}))
        token = _ok(
            client.post("/api/v2/tokens", json={"name": "r", "role": "writer", "serviceToken": True}, headers=admin),
            201,
        )["token"]
        reviewer = {"Authorization": token}
        spy = None
        if args.py_spy:  # sample this process (--gil: where the CPU goes) while the steps run
            exe = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
            command = [exe, "record", "--gil", "--rate", "250", "--format", "raw", "-o", args.py_spy]
            spy = subprocess.Popen([*command, "--pid", str(os.getpid())])
            time.sleep(1.0)
        totals: dict[str, Counter[str]] = {}
        times: dict[str, list[float]] = {"create": [], "review": [], "apply": []}
        cpu: dict[str, list[float]] = {"create": [], "review": [], "apply": []}
        for i in range(args.flags):
            key = f"flag-{i:04d}"
            base = f"/api/v2/projects/{PROJECT}/flags/{key}/environments/production"
            steps = [
                (
                    "create",
                    lambda: client.post(
                        f"{base}/approval-requests-flag-copy",
                        json={"description": "d", "source": {"key": "staging"}},
                        headers=admin,
                    ),
                    201,
                ),  # noqa: E501
            ]
            rid = ""
            for name in ("create", "review", "apply"):
                rec.reset()
                started = time.perf_counter()
                cpu_started = time.process_time()
                if name == "create":
                    response = steps[0][1]()
                    rid = _ok(response, 201)["_id"]
                elif name == "review":
                    _ok(
                        client.post(
                            f"{base}/approval-requests/{rid}/reviews", json={"kind": "approve"}, headers=reviewer
                        )
                    )
                else:
                    _ok(client.post(f"{base}/approval-requests/{rid}/apply", json={}, headers=admin))
                times[name].append((time.perf_counter() - started) * 1000)
                cpu[name].append((time.process_time() - cpu_started) * 1000)
                counts = totals.setdefault(name, Counter())
                counts["statements"] += len(rec.statements)
                counts["transactions"] += rec.transactions
                counts["write_transactions"] += rec.write_transactions
                if i == args.flags - 1 and name in args.show:
                    print(f"--- {name}: {len(rec.statements)} statements, {rec.transactions} transactions")
                    for s in rec.statements:
                        print("   ", s)
        if spy is not None:
            spy.send_signal(signal.SIGINT)
            spy.wait(timeout=60)
        print(f"store {args.store}, {args.flags} flags, one request at a time, in process")
        for name, counts in totals.items():
            ordered = sorted(times[name])
            print(
                f"{name:<7} statements/request {counts['statements'] / args.flags:5.1f}  "
                f"transactions {counts['transactions'] / args.flags:4.1f} "
                f"(write {counts['write_transactions'] / args.flags:3.1f})  "
                f"median {ordered[len(ordered) // 2]:6.1f} ms, CPU {sorted(cpu[name])[len(ordered) // 2]:5.1f} ms"
            )
        client.close()
        services.close()


if __name__ == "__main__":
    main()
