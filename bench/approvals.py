"""Approval-request latency and throughput against a running flagward, on SQLite and PostgreSQL, with
1 client and with several concurrent clients (8 and 32 by default), all in one command.

For each store it starts one ``flagward serve`` process on a fresh store and seeds one project with
1,000 flags in 5 environments (production requires one approval). Then, per flag, it measures
create-copy-request (staging → production), review (approve, by a writer service token) and apply (by
the requester): one client at a time (latency), then with each ``--clients`` count (each step of a phase
runs over fresh flags, the clients sharing them out). ``--pending N`` adds N pending requests on *other*
flags and measures everything again (the cost of a step must not grow with pending requests elsewhere).

``--baseline-src DIR`` also starts a server serving another checkout's ``src`` (e.g. ``git archive main
src | tar -x -C /tmp/base``) on a store of its own, beside this checkout's: each block (a client count)
is measured on one and then the other, in alternating order, so before/after ratios come from the same
minutes of a shared machine. ``--rounds`` repeats everything.

Run from the repository root:

    python -m bench.approvals                                   # both stores, 1, 8 and 32 clients
    python -m bench.approvals --stores sqlite --clients 8
    python -m bench.approvals --baseline-src /tmp/base/src

Figures go to stdout (a summary table at the end: p50 / p99 / max per step and over all three steps,
requests per second, the load average before and after each block) and to
bench/results/approvals.json; BENCHMARKS.md records them.
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
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psycopg
from sqlalchemy.engine import make_url
from tests.support.databases import fresh_postgres_database
from tests.support.server import ServerProcess

from bench._common import REPO, percentile, report

PROJECT = "bench"
ENVS = ["production", "staging", "qa", "dev", "perf"]
SEMANTIC = {"Content-Type": "application/json; domain-model=launchdarkly.semanticpatch"}
STEPS = ("create_copy_request", "review", "apply")


def _check(response: httpx.Response, status: int = 200) -> dict[str, Any]:
    if response.status_code != status:
        raise RuntimeError(f"{response.request.method} {response.request.url}: {response.status_code} {response.text}")
    return response.json() if response.content else {}


def _client(url: str, token: str, connections: int) -> httpx.Client:
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    return httpx.Client(base_url=url, headers={"Authorization": token}, timeout=120, limits=limits)


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


def _stats(latencies: list[float], elapsed: float) -> dict[str, Any]:
    return {
        "n": len(latencies),
        "p50_ms": round(percentile(latencies, 50), 1),
        "p99_ms": round(percentile(latencies, 99), 1),
        "max_ms": round(max(latencies), 1),
        "per_second": round(len(latencies) / elapsed, 1),
    }


def measure(
    admin: httpx.Client,
    reviewer: httpx.Client,
    keys: list[str],
    concurrency: int,
    sessions: Callable[[], int] | None = None,
) -> dict[str, Any]:
    """Create a copy request, approve it and apply it for each flag, each step over all ``keys`` with
    ``concurrency`` clients; latencies per step and over the three steps, in ms."""
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

    load_before = _load()
    sessions_before = sessions() if sessions else 0
    results: dict[str, Any] = {}
    every: list[float] = []
    total = 0.0
    for name, step in zip(STEPS, (create, review, apply), strict=True):
        start = time.perf_counter()
        if concurrency == 1:
            latencies = [step(k) for k in keys]
        else:
            with ThreadPoolExecutor(concurrency) as pool:
                latencies = list(pool.map(step, keys))
        elapsed = time.perf_counter() - start
        total += elapsed
        every += latencies
        results[name] = _stats(latencies, elapsed)
    results["overall"] = _stats(every, total)
    results["load_average_before_after"] = [load_before, _load()]
    if sessions is not None:  # connections the server opened meanwhile (its pool's churn)
        results["new_database_connections"] = sessions() - sessions_before - 1
    return results


def pg_sessions(url: str) -> Callable[[], int]:
    """PostgreSQL's count of sessions ever opened to the store's database (this query's own included)."""
    libpq = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)

    def count() -> int:
        with psycopg.connect(libpq) as conn:
            row = conn.execute("SELECT sessions FROM pg_stat_database WHERE datname = current_database()").fetchone()
            return int(row[0]) if row else 0

    return count


def _load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


@contextmanager
def store(kind: str, workdir: Path) -> Iterator[str]:
    if kind == "sqlite":
        yield f"sqlite:///{workdir / 'bench.db'}"
    else:
        with fresh_postgres_database() as url:
            yield url


def _samples(args: argparse.Namespace, clients: int) -> int:
    """Enough requests per step that every client makes several (32 clients sharing 100 flags would
    spend much of a phase ramping up and down)."""
    return max(args.samples, 8 * clients)


def flags_needed(args: argparse.Namespace) -> int:
    per_phase = args.samples + sum(_samples(args, c) for c in args.clients)
    phases = 2 if args.pending else 1
    return per_phase * phases + (args.pending_flags if args.pending else 0)


@contextmanager
def sampled(pid: int, out: Path | None) -> Iterator[None]:
    """``--py-spy``: sample the server process (py-spy, raw collapsed stacks) while the block runs."""
    if out is None:
        yield
        return
    exe = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    spy = subprocess.Popen(
        [
            exe,
            "record",
            "--pid",
            str(pid),
            "--format",
            "raw",
            "--rate",
            "200",
            *(["--gil"] if os.environ.get("PY_SPY_GIL") else []),
            *(["--idle", "--threads"] if os.environ.get("PY_SPY_IDLE") else []),
            "-o",
            str(out),
        ]
    )
    try:
        yield
    finally:
        spy.send_signal(signal.SIGINT)
        spy.wait(timeout=60)


@dataclass
class Target:
    """One server under measurement (this checkout's code or the baseline's) on a store of its own."""

    kind: str
    server_src: Path | None
    url: str
    server: ServerProcess
    admin: httpx.Client
    reviewer: httpx.Client
    sessions: Callable[[], int] | None
    flags: int
    seed_seconds: float = 0.0
    next_flag: int = 0
    phases: dict[str, Any] = field(default_factory=dict)

    @property
    def tag(self) -> str:
        return "baseline" if self.server_src else "this"

    def take(self, n: int) -> list[str]:
        keys = [f"flag-{i:04d}" for i in range(self.next_flag, self.next_flag + n)]
        self.next_flag += n
        return keys

    def measure(self, args: argparse.Namespace, clients: int) -> dict[str, Any]:
        n = args.samples if clients == 1 else _samples(args, clients)
        spy = args.py_spy / f"{self.kind}-{self.tag}-{clients}-{self.next_flag}.txt" if args.py_spy else None
        assert self.server.process is not None
        with sampled(self.server.process.pid, spy):
            return measure(self.admin, self.reviewer, self.take(n), clients, self.sessions)

    def result(self) -> dict[str, Any]:
        return {
            "store": self.kind,
            "server_src": str(self.server_src) if self.server_src else "this checkout",
            "flags": self.flags,
            "seed_seconds": round(self.seed_seconds, 1),
            "phases": self.phases,
        }


def open_target(stack: ExitStack, args: argparse.Namespace, kind: str, server_src: Path | None) -> Target:
    """A fresh ``kind`` store, a server on it, seeded."""
    flags = max(args.flags, flags_needed(args))
    tmp = Path(stack.enter_context(tempfile.TemporaryDirectory()))
    url = stack.enter_context(store(kind, tmp))
    # This checkout's own src unless another is named, whatever the virtualenv's editable install points at.
    env = {"PYTHONPATH": str((server_src or REPO / "src").resolve())}
    server = ServerProcess(database_url=url, workdir=tmp, extra_env=env)
    stack.callback(server.stop)
    server.start(timeout=180)  # a busy shared machine can take a while to run the migrations
    widest = max([1, *args.clients])
    admin = stack.enter_context(_client(server.url, server.admin_token, widest))
    started = time.perf_counter()
    reviewer_token = seed(admin, flags, 8)
    seeded = time.perf_counter() - started
    reviewer = stack.enter_context(_client(server.url, reviewer_token, widest))
    sessions = pg_sessions(url) if kind == "postgres" else None
    return Target(kind, server_src, url, server, admin, reviewer, sessions, flags, seeded)


def run_store(args: argparse.Namespace, kind: str, variants: list[Path | None]) -> list[dict[str, Any]]:
    """One server per variant, each on a fresh ``kind`` store, all up at once; every block (a client
    count in a phase) is measured on each variant back to back, in alternating order, so that the
    variants share the machine's load of the same minutes."""
    with ExitStack() as stack:
        targets = [open_target(stack, args, kind, src) for src in variants]
        flip = False

        def phase(name: str) -> None:
            nonlocal flip
            for clients in [1, *args.clients]:
                for target in targets[::-1] if flip else targets:
                    target.phases.setdefault(name, {})[str(clients)] = target.measure(args, clients)
                flip = not flip

        phase("pending_0")
        if args.pending:
            for target in targets:
                flags = target.flags
                add_pending(target.admin, args.pending, range(flags - args.pending_flags, flags), 8)
            phase(f"pending_{args.pending}")
        return [target.result() for target in targets]


def summary(runs: list[dict[str, Any]]) -> str:
    header = (
        "store       code      pending clients  step                  n    p50 ms   p99 ms   max ms    req/s"
        "  load before → after"
    )
    lines = [header, "-" * len(header)]
    for run in runs:
        code = "baseline" if run["server_src"] != "this checkout" else "this"
        for pending, by_clients in run["phases"].items():
            for clients, steps in by_clients.items():
                load = steps["load_average_before_after"]
                for step in (*STEPS, "overall"):
                    s = steps[step]
                    lines.append(
                        f"{run['store']:<11} {code:<9} {pending.removeprefix('pending_'):>7} {clients:>7}  {step:<20}"
                        f"{s['n']:>4} {s['p50_ms']:>8} {s['p99_ms']:>8} {s['max_ms']:>8} {s['per_second']:>8}"
                        + (f"  {load[0][0]} → {load[1][0]}" if step == "overall" else "")
                        + (
                            f"  new connections {steps['new_database_connections']}"
                            if step == "overall" and "new_database_connections" in steps
                            else ""
                        )
                    )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stores", default="sqlite,postgres", help="comma-separated: sqlite, postgres")
    parser.add_argument("--postgres-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--clients", default="8,32", help="comma-separated concurrent client counts")
    parser.add_argument("--flags", type=int, default=1000, help="flags in the project (at least what is measured)")
    parser.add_argument("--pending", type=int, default=0, help="then this many pending requests elsewhere")
    parser.add_argument("--pending-flags", type=int, default=600, help="the flags the pending requests are on")
    parser.add_argument("--samples", type=int, default=100, help="requests per step with 1 client (at least)")
    parser.add_argument("--baseline-src", type=Path, default=None, help="also serve this src, interleaved")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--py-spy", type=Path, default=None, help="record the server with py-spy into this dir")
    parser.add_argument("--label", default="approvals", help="the result file's name")
    args = parser.parse_args()
    args.clients = [int(c) for c in args.clients.split(",") if c.strip()]
    if args.py_spy is not None:
        args.py_spy.mkdir(parents=True, exist_ok=True)
    stores = [s.strip() for s in args.stores.split(",") if s.strip()]
    os.environ.setdefault("FLAGWARD_TEST_POSTGRES_URL", args.postgres_url)
    variants: list[Path | None] = [None] if args.baseline_src is None else [args.baseline_src, None]
    runs = []
    for _ in range(args.rounds):
        for kind in stores:
            done = run_store(args, kind, variants)
            runs += done
            print(summary(done), flush=True)
    report(args.label, {"environments": len(ENVS), "clients": args.clients, "rounds": args.rounds, "runs": runs})
    print()
    print(summary(runs))


if __name__ == "__main__":
    main()
