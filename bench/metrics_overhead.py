"""Benchmark 9: what the Prometheus metrics cost ``GET /sdk/latest-all``, served in process.

The whole application (every middleware, ``Observed`` included) is called as ASGI, without a network,
so that the few hundred nanoseconds the metrics add are not lost in the noise of sockets and a busy
machine: a child process per run serves from this checkout (metrics on) or from another checkout's
``src`` without them (``--without DIR``, e.g. ``git archive ae6ea27 src | tar -x -C DIR``). Runs
alternate, and the best of each is kept (the least disturbed by other work on the machine).

    python -m bench.metrics_overhead --without /tmp/base/src [--rounds 7] [--requests 5000] [--flags 500]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench._common import report

REPO = Path(__file__).resolve().parents[1]


async def _measure(flags: int, requests: int) -> dict[str, float]:
    import httpx

    from flagward.bootstrap import build_services
    from flagward.config import Settings
    from flagward.http.app import create_app
    from flagward.services.auth import ensure_owner_and_admin_token

    token = "api-bench-admin-token-0123456789abcdefghij"
    with tempfile.TemporaryDirectory() as tmp:
        services = build_services(Settings(database_url=f"sqlite:///{tmp}/bench.db"))
        ensure_owner_and_admin_token(services.deps, owner_email="owner@example.com", admin_token=token)
        app = create_app(services.settings, services.deps, services.sdk)
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
                headers = {"Authorization": token}
                created = await client.post("/api/v2/projects", json={"key": "b", "name": "b"}, headers=headers)
                sdk_key = next(e["apiKey"] for e in created.json()["environments"] if e["key"] == "production")
                for i in range(flags):
                    body = {"key": f"f{i}", "name": f"f{i}", "variations": [{"value": True}, {"value": False}]}
                    await client.post("/api/v2/flags/b", json=body, headers=headers)
                first = await client.get("/sdk/latest-all", headers={"Authorization": sdk_key})
                etag = first.headers["etag"]
            results = {}
            for name, extra in (
                ("304", [(b"if-none-match", etag.encode())]),
                ("200_gzip", [(b"accept-encoding", b"gzip")]),
            ):
                results[name] = await _loop(app, sdk_key, extra, requests)
        services.close()
    return results


async def _loop(app: Any, sdk_key: str, extra: list[tuple[bytes, bytes]], requests: int) -> float:
    """Microseconds per request, the application called directly."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": "/sdk/latest-all",
        "raw_path": b"/sdk/latest-all",
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"bench"), (b"authorization", sdk_key.encode()), *extra],
        "client": ("127.0.0.1", 1),
        "server": ("bench", 80),
        "app": app,
    }
    statuses: list[int] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            statuses.append(message["status"])

    for _ in range(200):  # warm up
        await app(dict(scope), receive, send)
    started = time.perf_counter()
    for _ in range(requests):
        await app(dict(scope), receive, send)
    elapsed = time.perf_counter() - started
    assert set(statuses) <= {200, 304}, set(statuses)
    return elapsed / requests * 1e6


def _child(src: Path, flags: int, requests: int) -> dict[str, float]:
    env = dict(os.environ, PYTHONPATH=f"{src}{os.pathsep}{REPO}", FLAGWARD_LOG_LEVEL="error")
    code = (
        "import asyncio, json, logging; logging.disable(logging.WARNING); from bench.metrics_overhead import _measure; "
        f"print(json.dumps(asyncio.run(_measure({flags}, {requests}))))"
    )
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True, cwd=REPO)
    result: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--without", type=Path, required=True, help="src of a checkout without the metrics")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--requests", type=int, default=5000)
    parser.add_argument("--flags", type=int, default=500)
    args = parser.parse_args()
    sources = {"metrics_on": REPO / "src", "metrics_off": args.without.resolve()}
    runs: dict[str, list[dict[str, float]]] = {name: [] for name in sources}
    for _ in range(args.rounds):
        for name, src in sources.items():
            runs[name].append(_child(src, args.flags, args.requests))
    best = {
        name: {kind: round(min(run[kind] for run in results), 2) for kind in results[0]}
        for name, results in runs.items()
    }
    report(
        "metrics-overhead",
        {
            "flags": args.flags,
            "requests_per_run": args.requests,
            "rounds": args.rounds,
            "microseconds_per_request_best": best,
            "microseconds_per_request_all": runs,
        },
    )


if __name__ == "__main__":
    main()
