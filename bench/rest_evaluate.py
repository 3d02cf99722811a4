"""REST ``POST …/flags/evaluate`` (``evaluateContextInstance``) on SQLite, one server process: with the
environment held by the SDK hub (flags taken compiled from the hub, compiled once per version) and with
an environment the hub does not hold (every flag compiled for each request, as before).

Seeds two projects with the same ``--flags`` flags (``bench._common.make_flags``: targets, a rule and a
rollout each, on in production). One SDK poll makes the hub hold the first project's production
environment; no SDK ever asks for the second's. Then ``--rounds`` rounds, alternating between the two,
of ``--requests`` evaluations of one context each over one keep-alive connection; each request is timed
from sending it to having read the whole response, and the server's CPU time is read from /proc.

    python -m bench.rest_evaluate [--flags 200] [--requests 200] [--rounds 5]
    git archive 65412f9 src | (mkdir -p /tmp/base && tar -x -C /tmp/base)   # the code before the change
    python -m bench.rest_evaluate --server-src /tmp/base/src --label rest-evaluate-before

Figures go to stdout and bench/results/rest-evaluate.json; BENCHMARKS.md records them.
"""

from __future__ import annotations

import argparse
import os
import re
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from tests.support.sdk import Env, rest
from tests.support.server import ServerProcess

from bench._common import make_flags, percentile, report

CONTEXT = {"kind": "user", "key": "user-7", "email": "someone@example.com"}
COMPILES = re.compile(r'^flagward_sdk_compiles_total\{kind="flags"\} (\S+)$', re.MULTILINE)


def cpu_ms(pid: int) -> float:
    """User + system CPU time of the process (all its threads), in milliseconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) * 1000 / os.sysconf("SC_CLK_TCK")


def compiles(client: httpx.Client) -> float:
    match = COMPILES.search(client.get("/metrics").text)
    return float(match.group(1)) if match else 0.0


def run(client: httpx.Client, env: Env, requests: int, pid: int) -> dict[str, Any]:
    path = f"/api/v2/projects/{env.project}/environments/{env.key}/flags/evaluate"
    compiled, cpu = compiles(client), cpu_ms(pid)
    times = []
    for _ in range(requests):
        started = time.perf_counter()
        response = client.post(path, json=CONTEXT)
        times.append((time.perf_counter() - started) * 1000)
        if response.status_code != 200:
            raise RuntimeError(f"{path}: {response.status_code} {response.text[:300]}")
    return {
        "times": times,
        "cpu_ms": cpu_ms(pid) - cpu,
        "compiles": compiles(client) - compiled,
        "items": len(response.json()["items"]),
    }


def summary(rounds: list[dict[str, Any]], requests: int) -> dict[str, Any]:
    times = [t for r in rounds for t in r["times"]]
    total = requests * len(rounds)
    return {
        "p50_ms": round(percentile(times, 50), 2),
        "p99_ms": round(percentile(times, 99), 2),
        "best_round_p50_ms": round(min(percentile(r["times"], 50) for r in rounds), 2),
        "server_cpu_ms_per_request": round(sum(r["cpu_ms"] for r in rounds) / total, 2),
        "flag_compiles_per_request": round(sum(r["compiles"] for r in rounds) / total, 2),
        "flags_evaluated": rounds[0]["items"],
        "requests": total,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--flags", type=int, default=200)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--server-src", type=Path, help="serve this src directory instead of the checkout's")
    parser.add_argument("--label", default="rest-evaluate", help="the result's name (bench/results/<label>.json)")
    args = parser.parse_args()
    extra_env = {"PYTHONPATH": str(args.server_src.resolve())} if args.server_src else {}
    load_before = [round(x, 2) for x in os.getloadavg()]
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'flagward.db'}"
        server = ServerProcess(database_url=url, workdir=Path(tmp), extra_env=extra_env)
        with server, rest(server.url, server.admin_token) as api:
            held, unheld = api.create_project("held")["production"], api.create_project("unheld")["production"]
            for env in (held, unheld):
                make_flags(api, env, args.flags)
            poll = api.http.get("/sdk/latest-all", headers={"Authorization": held.sdk_key})
            assert poll.status_code == 200 and len(poll.json()["flags"]) == args.flags
            assert server.process is not None
            pid = server.process.pid
            for env in (held, unheld):  # warm up: the hub compiles the held environment's flags here
                run(api.http, env, 5, pid)
            results: dict[str, list[dict[str, Any]]] = {"held": [], "unheld": []}
            for _ in range(args.rounds):
                results["held"].append(run(api.http, held, args.requests, pid))
                results["unheld"].append(run(api.http, unheld, args.requests, pid))
    out = {name: summary(rounds, args.requests) for name, rounds in results.items()}
    report(
        args.label,
        {
            "server_src": str(args.server_src) if args.server_src else "this checkout",
            "store": "sqlite",
            "flags": args.flags,
            "held_by_the_hub": out["held"],
            "not_held": out["unheld"],
            "cpu_ratio_not_held_to_held": round(
                out["unheld"]["server_cpu_ms_per_request"] / out["held"]["server_cpu_ms_per_request"], 2
            ),
            "load_average_before": load_before,
            "note": "one keep-alive connection, one context, rounds alternate between the environments",
        },
    )


if __name__ == "__main__":
    main()
