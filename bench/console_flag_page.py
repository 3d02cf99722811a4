"""Server-side rendering time of the console's flag page for a flag with 50 rules, on SQLite.

Seeds one project (5 environments, production requires approval) with 300 flags, then one flag with 50
rules, 40 individual targets and a rollout default in every environment, 14 days of SDK evaluations in
production, and 201 audited changes of its own among 1,800 on other flags. A writer (the view with
every form, approval banners included) then loads ``/projects/bench/flags/wide?env=production`` over
one keep-alive connection; each request is timed from sending it to having read the whole page.

Run from the repository root:

    python -m bench.console_flag_page [--requests 500]

Figures go to stdout and bench/results/console-flag-page.json; BENCHMARKS.md records them.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from tests.support.accounts import PASSWORD
from tests.support.server import ServerProcess

from bench._common import percentile, report
from flagward.http.deps import SESSION_COOKIE

PROJECT = "bench"
ENVS = ["production", "staging", "qa", "dev", "perf"]
FLAG = "wide"
RULES = 50
SEMANTIC = {"Content-Type": "application/json; domain-model=launchdarkly.semanticpatch"}
DAY_MS = 86_400_000


def _check(response: httpx.Response, status: int = 200) -> Any:
    if response.status_code != status:
        raise RuntimeError(f"{response.request.method} {response.request.url}: {response.status_code} {response.text}")
    return response.json() if response.content else {}


def _patch(admin: httpx.Client, key: str, env: str, instructions: list[dict[str, Any]]) -> None:
    body = {"environmentKey": env, "instructions": instructions}
    _check(admin.patch(f"/api/v2/flags/{PROJECT}/{key}", json=body, headers=SEMANTIC))


def _rules(true: str, false: str) -> list[dict[str, Any]]:
    rules = []
    for i in range(RULES):
        clauses = [
            {"attribute": "email", "op": "endsWith", "values": [f"@team{i}.example.com", f"@corp{i}.example.com"]},
            {"attribute": "country", "op": "in", "values": ["de", "fr", "nl"], "negate": i % 3 == 0},
        ]
        serve: dict[str, Any] = (
            {"rolloutWeights": {true: 20_000, false: 80_000}} if i % 5 == 0 else {"variationId": (true, false)[i % 2]}
        )
        rules.append({"kind": "addRule", "clauses": clauses, "description": f"Cohort {i}", **serve})
    return rules


def seed(admin: httpx.Client, base_url: str) -> None:
    environments = [{"key": k, "name": k.title(), "color": "00AA00"} for k in ENVS]
    _check(admin.post("/api/v2/projects", json={"key": PROJECT, "name": "Bench", "environments": environments}), 201)
    gate = [{"op": "replace", "path": "/approvalSettings/required", "value": True}]
    _check(admin.patch(f"/api/v2/projects/{PROJECT}/environments/production", json=gate))
    for i in range(300):
        key = f"flag-{i:03d}"
        _check(admin.post(f"/api/v2/flags/{PROJECT}", json={"key": key, "name": key, "tags": ["bench"]}), 201)
        for round_ in range(5):
            _patch(admin, key, ENVS[round_], [{"kind": "turnFlagOn"}])
    flag = _check(admin.post(f"/api/v2/flags/{PROJECT}", json={"key": FLAG, "name": "Wide flag"}), 201)
    true, false = (v["_id"] for v in flag["variations"])
    for env in ENVS:
        keys = [f"u{i}" for i in range(40)]
        targets = {"kind": "addTargets", "contextKind": "user", "variationId": true, "values": keys}
        fallthrough = {"kind": "updateFallthroughVariationOrRollout", "rolloutWeights": {true: 10_000, false: 90_000}}
        _patch(admin, FLAG, env, [{"kind": "turnFlagOn"}, targets, fallthrough, *_rules(true, false)])
    for i in range(195):  # the flag's own history
        _patch(admin, FLAG, "staging", [{"kind": "turnFlagOff" if i % 2 == 0 else "turnFlagOn"}])
    production = _check(admin.get(f"/api/v2/projects/{PROJECT}/environments/production"))
    now = int(time.time() * 1000)
    events = [
        {
            "kind": "summary",
            "startDate": now - d * DAY_MS - 1000,
            "endDate": now - d * DAY_MS,
            "features": {
                FLAG: {
                    "default": False,
                    "counters": [
                        {"count": 1000 + d, "value": True, "variation": 0, "version": 1},
                        {"count": 3000 - d, "value": False, "variation": 1, "version": 1},
                    ],
                }
            },
        }
        for d in range(14)
    ]
    _check(httpx.post(f"{base_url}/bulk", headers={"Authorization": production["apiKey"]}, json=events), 202)
    time.sleep(1.0)  # the server stores evaluation counts every 0.2 s (FLAGWARD_FLAG_STATUS_FLUSH_SECONDS)


def writer_session(admin: httpx.Client, base_url: str) -> str:
    email = "bench-writer@example.com"
    body = [{"email": email, "role": "writer", "password": PASSWORD, "firstName": "Bench"}]
    _check(admin.post("/api/v2/members", json=body), 201)
    response = httpx.post(f"{base_url}/auth/login", json={"email": email, "password": PASSWORD})
    _check(response)
    return str(response.cookies[SESSION_COOKIE])


def measure(base_url: str, session: str, requests: int) -> list[float]:
    path = f"/projects/{PROJECT}/flags/{FLAG}?env=production"
    timings = []
    with httpx.Client(base_url=base_url, cookies={SESSION_COOKIE: session}, timeout=30) as client:
        page = client.get(path)
        if page.status_code != 200 or "Cohort 49" not in page.text or "request approval" not in page.text:
            raise RuntimeError(f"unexpected page: {page.status_code} {page.text[:500]}")
        for _ in range(20):  # warm-up: templates compiled, caches filled
            client.get(path)
        for _ in range(requests):
            start = time.perf_counter()
            response = client.get(path)
            timings.append((time.perf_counter() - start) * 1000)
            if response.status_code != 200:
                raise RuntimeError(f"{response.status_code}: {response.text[:300]}")
        size = len(page.content)
    print(f"page size {size} bytes")
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=500)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        server = ServerProcess(
            database_url=f"sqlite:///{workdir / 'flagward.db'}",
            workdir=workdir,
            extra_env={"FLAGWARD_FLAG_STATUS_FLUSH_SECONDS": "0.2"},
        )
        headers = {"Authorization": server.admin_token}
        with server, httpx.Client(base_url=server.url, headers=headers, timeout=60) as admin:
            started = time.perf_counter()
            seed(admin, server.url)
            seeded = time.perf_counter() - started
            session = writer_session(admin, server.url)
            timings = measure(server.url, session, args.requests)
    report(
        "console-flag-page",
        {
            "store": "sqlite",
            "flags": 301,
            "rules": RULES,
            "environments": len(ENVS),
            "requests": len(timings),
            "seed_seconds": round(seeded, 1),
            "ms": {
                "p50": round(percentile(timings, 50), 1),
                "p90": round(percentile(timings, 90), 1),
                "p99": round(percentile(timings, 99), 1),
                "max": round(max(timings), 1),
            },
        },
    )


if __name__ == "__main__":
    main()
