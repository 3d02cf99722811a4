"""Benchmark 2: propagation latency from an approval being applied to the patch reaching 1,000 streams.

PostgreSQL store. With one process, the streams and the apply go to the same server; with two, the
streams are held by one server and the approval is applied through the other (LISTEN/NOTIFY in between).
Each round creates and approves a request (turn the flag on, or off), then times ``POST .../apply``; every
stream's arrival time of the resulting ``patch`` is taken against the moment the apply response arrived
(and against the moment the request was sent). The streams are read by four separate client processes,
so that reading 1,000 sockets does not delay the clock of the one that applies.

    FLAGWARD_TEST_POSTGRES_URL=postgresql://postgres@127.0.0.1:5432/postgres python -m bench.propagation
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import tempfile
import time
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from tests.support.databases import fresh_postgres_database
from tests.support.sdk import Env, Rest, rest
from tests.support.server import ServerProcess

from bench._common import StreamClient, make_flags, percentile, report

READERS = 4


def _reader(port: int, sdk_key: str, count: int, done: Any, pipe: Connection) -> None:
    """A client process holding ``count`` streams; ``done[i]`` is the number of its streams that saw
    patch number i+1. Sends every stream's patch arrival times when told to stop."""

    async def run() -> list[list[float]]:
        clients = [await StreamClient.open(port, sdk_key) for _ in range(count)]
        tasks = [asyncio.ensure_future(c.run()) for c in clients]
        while sum(c.puts for c in clients) < count:
            await asyncio.sleep(0.01)
        pipe.send("ready")
        while not pipe.poll():
            for i in range(len(done)):
                done[i] = sum(1 for c in clients if c.patches > i)
            await asyncio.sleep(0.002)
        pipe.recv()
        for client in clients:
            client.close()
        await asyncio.gather(*tasks, return_exceptions=True)
        return [c.patch_times or [] for c in clients]

    pipe.send(asyncio.run(run()))


def _require_approvals(api: Rest, env: Env) -> None:
    ops = [
        {"op": "replace", "path": "/approvalSettings/required", "value": True},
        {"op": "replace", "path": "/approvalSettings/canReviewOwnRequest", "value": True},
    ]
    response = api.http.patch(f"/api/v2/projects/{env.project}/environments/{env.key}", json=ops)
    response.raise_for_status()


def _round(api: Rest, env: Env, flag: str, on: bool) -> tuple[float, float]:
    base = f"/api/v2/projects/{env.project}/flags/{flag}/environments/{env.key}/approval-requests"
    kind = "turnFlagOn" if on else "turnFlagOff"
    created = api.http.post(base, json={"description": kind, "instructions": [{"kind": kind}]})
    created.raise_for_status()
    request_id = created.json()["_id"]
    api.http.post(f"{base}/{request_id}/reviews", json={"kind": "approve"}).raise_for_status()
    sent = time.time()
    applied = api.http.post(f"{base}/{request_id}/apply", json={})
    answered = time.time()
    applied.raise_for_status()
    return sent, answered


def _measure(processes: int, streams: int, rounds: int) -> dict[str, Any]:
    with fresh_postgres_database() as url, tempfile.TemporaryDirectory() as tmp:
        servers = [ServerProcess(database_url=url, workdir=Path(tmp)).start() for _ in range(processes)]
        holder, applier = servers[0], servers[-1]
        try:
            with rest(applier.url, applier.admin_token) as api:
                env = api.create_project("bench")["production"]
                (flag,) = make_flags(api, env, 1)
                _require_approvals(api, env)
                done = [mp.Array("i", rounds + 1) for _ in range(READERS)]
                pipes, workers = [], []
                for i in range(READERS):
                    parent, child = mp.Pipe()
                    worker = mp.Process(
                        target=_reader, args=(holder.port, env.sdk_key, streams // READERS, done[i], child)
                    )
                    worker.start()
                    pipes.append(parent)
                    workers.append(worker)
                for pipe in pipes:
                    assert pipe.recv() == "ready"
                times = []
                for i in range(rounds + 1):  # round 0 warms up
                    times.append(_round(api, env, flag, on=i % 2 == 1))  # make_flags left it on
                    deadline = time.monotonic() + 30
                    while sum(d[i] for d in done) < streams:
                        if time.monotonic() > deadline:
                            raise TimeoutError(f"round {i}: the patch did not reach every stream")
                        time.sleep(0.001)
                arrivals: list[list[float]] = []
                for pipe in pipes:
                    pipe.send("stop")
                    arrivals += pipe.recv()
                for worker in workers:
                    worker.join()
        finally:
            for server in servers:
                server.stop()
    after_response = [(s[i] - times[i][1]) * 1000 for s in arrivals for i in range(1, rounds + 1)]
    after_request = [(s[i] - times[i][0]) * 1000 for s in arrivals for i in range(1, rounds + 1)]
    last = [max(s[i] for s in arrivals) - times[i][1] for i in range(1, rounds + 1)]
    return {
        "server_processes": processes,
        "streams": streams,
        "rounds": rounds,
        "ms_after_apply_response": {
            "p50": round(percentile(after_response, 50), 1),
            "p99": round(percentile(after_response, 99), 1),
        },
        "ms_after_apply_request": {
            "p50": round(percentile(after_request, 50), 1),
            "p99": round(percentile(after_request, 99), 1),
        },
        "ms_until_last_stream_after_response": {
            "p50": round(percentile(last, 50) * 1000, 1),
            "max": round(max(last) * 1000, 1),
        },
        "apply_request_ms": {"p50": round(percentile([(t[1] - t[0]) * 1000 for t in times[1:]], 50), 1)},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--streams", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=30)
    args = parser.parse_args()
    runs = [_measure(processes, args.streams, args.rounds) for processes in (1, 2)]
    report("propagation", {"runs": runs})


if __name__ == "__main__":
    main()
