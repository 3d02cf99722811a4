"""Server-side render time of the console's approvals inbox with 10,000 pending requests, on SQLite.

Starts one ``flagward serve`` on a fresh SQLite file; through the REST API creates one project (production
requires approval), 50 flags and three members (the reviewer whose inbox is measured, a requester, and
another reviewer). It then stops the server and stores 10,000 pending requests in one transaction through
the services' unit of work (creating them over HTTP takes minutes and measures something else): every one
names the reviewer; one in ten the reviewer already approved, one in twenty the reviewer made. The server
starts again, the reviewer signs in, and the script times full page loads over HTTP (server-side render:
the inbox query, the page's template, one response), each page 200 times after 10 warm-up loads, and
reads the CPU time the server process spent on them (on a shared machine, the figure load does not skew):

- ``/approvals`` (waiting for my review, the default tab, first page, the three tab counts);
- ``/approvals?tab=all`` and ``/approvals?tab=waiting&page=200`` (deep page);
- ``/approvals/list`` (the partial the page polls).

Run from the repository root:

    python -m bench.console_inbox

Figures go to stdout and bench/results/console_inbox.json; BENCHMARKS.md records them.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from tests.support.accounts import PASSWORD
from tests.support.server import ServerProcess

from bench._common import percentile, report
from flagward.bootstrap import build_services
from flagward.config import Settings
from flagward.domain.approvals import ResourceKind, Review, ReviewKind, new_request

PROJECT = "bench"
PAGES = {
    "waiting (default)": "/approvals",
    "all": "/approvals?tab=all",
    "waiting, page 200": "/approvals?tab=waiting&page=200",
    "polled partial": "/approvals/list",
}


def _check(response: httpx.Response, status: int = 200) -> Any:
    if response.status_code != status:
        raise RuntimeError(f"{response.request.method} {response.request.url}: {response.status_code} {response.text}")
    return response.json() if response.content else {}


def seed_api(admin: httpx.Client, flags: int) -> dict[str, str]:
    """The project, its flags and members; returns member ids by name."""
    environments = [{"key": k, "name": k.title(), "color": "00AA00"} for k in ("production", "staging")]
    _check(admin.post("/api/v2/projects", json={"key": PROJECT, "name": "Bench", "environments": environments}), 201)
    patch = [{"op": "replace", "path": "/approvalSettings/required", "value": True}]
    _check(admin.patch(f"/api/v2/projects/{PROJECT}/environments/production", json=patch))
    for i in range(flags):
        body = {"key": f"flag-{i:03d}", "name": f"Flag {i}", "variations": [{"value": True}, {"value": False}]}
        _check(admin.post(f"/api/v2/flags/{PROJECT}", json=body), 201)
    ids = {}
    for name in ("reviewer", "requester", "other"):
        body = [{"email": f"{name}@example.com", "role": "writer", "password": PASSWORD, "firstName": name.title()}]
        ids[name] = _check(admin.post("/api/v2/members", json=body), 201)["items"][0]["_id"]
    return ids


def seed_requests(database_url: str, ids: dict[str, str], count: int, flags: int) -> None:
    """``count`` pending requests in production, stored in one transaction (see the module docstring)."""
    services = build_services(Settings(database_url=database_url), migrate=False)
    try:
        now = services.deps.clock.now_ms()
        with services.deps.uow() as uow:
            for i in range(count):
                requestor = ids["reviewer"] if i % 20 == 0 else ids["requester"]
                request = new_request(
                    project_key=PROJECT,
                    environment_key="production",
                    resource_kind=ResourceKind.FLAG,
                    resource_key=f"flag-{i % flags:03d}",
                    creation_date=now - (count - i) * 1000,
                    description=f"Turn on flag {i % flags} in production ({i})",
                    instructions=[{"kind": "turnFlagOn"}],
                    base_version=1,
                    requestor_id=requestor,
                    notify_member_ids=[ids["reviewer"], ids["other"]],
                )
                if i % 10 == 5:
                    request.reviews.append(
                        Review(id=f"rv{i:022d}", kind=ReviewKind.APPROVE, member_id=ids["reviewer"], creation_date=now)
                    )
                uow.approvals.add(request)
            uow.commit()
    finally:
        services.close()


def cpu_ms(pid: int) -> float:
    """CPU time the process has used (user + system), in ms: on a shared machine this is the figure that
    does not depend on what else runs."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) * 1000 / os.sysconf("SC_CLK_TCK")


def measure(client: httpx.Client, path: str, runs: int, warmup: int, pid: int) -> dict[str, Any]:
    for _ in range(warmup):
        _check_page(client.get(path))
    times = []
    cpu_before = cpu_ms(pid)
    for _ in range(runs):
        start = time.perf_counter()
        response = client.get(path)
        times.append((time.perf_counter() - start) * 1000)
        _check_page(response)
    return {
        "server_cpu_ms_per_page": round((cpu_ms(pid) - cpu_before) / runs, 1),
        "p50_ms": round(percentile(times, 50), 1),
        "p99_ms": round(percentile(times, 99), 1),
        "max_ms": round(max(times), 1),
        "runs": runs,
    }


def _check_page(response: httpx.Response) -> None:
    if response.status_code != 200 or "<table" not in response.text:
        raise RuntimeError(f"{response.request.url}: {response.status_code} {response.text[:500]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=10_000)
    parser.add_argument("--flags", type=int, default=50)
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=10)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        url = f"sqlite:///{workdir / 'flagward.db'}"
        server = ServerProcess(database_url=url, workdir=workdir)
        with server, httpx.Client(base_url=server.url, headers={"Authorization": server.admin_token}) as admin:
            ids = seed_api(admin, args.flags)
        started = time.perf_counter()
        seed_requests(url, ids, args.requests, args.flags)
        seeded_s = time.perf_counter() - started
        server = ServerProcess(database_url=url, workdir=workdir, port=server.port)
        with server, httpx.Client(base_url=server.url, timeout=30) as client:
            _check(client.post("/auth/login", json={"email": "reviewer@example.com", "password": PASSWORD}))
            assert server.process is not None
            pid = server.process.pid
            results = {name: measure(client, path, args.runs, args.warmup, pid) for name, path in PAGES.items()}
    report(
        "console_inbox",
        {"store": "sqlite", "pending_requests": args.requests, "seed_seconds": round(seeded_s, 1), "pages": results},
    )


if __name__ == "__main__":
    main()
