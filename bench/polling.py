"""Benchmark 3: ``GET /sdk/latest-all`` requests per second with 500 flags, with and without If-None-Match.

One ``flagward serve`` (SQLite) with an environment of 500 flags (targets, a rule and a rollout each);
client processes keep HTTP/1.1 connections alive and send requests back to back for a fixed time.
``--accept-gzip`` adds the ``Accept-Encoding: gzip`` that SDKs send (the gzipped body is cached too).

    python -m bench.polling [--seconds 10] [--clients 2] [--connections 16]

``--server-src DIR`` serves from another checkout's ``src`` (e.g. one without the Prometheus metrics,
``git archive <commit> src | tar -x -C DIR``), to compare the same load against it.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from tests.support.sdk import rest
from tests.support.server import ServerProcess

from bench._common import make_flags, report


async def _connection(port: int, request: bytes, stop_at: float, counts: dict[int, int]) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port, limit=1 << 22)
    try:
        while time.monotonic() < stop_at:
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head[9:12])
            length = 0
            for line in head.split(b"\r\n"):
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            if length:
                await reader.readexactly(length)
            counts[status] = counts.get(status, 0) + 1
    finally:
        writer.close()


def _client(port: int, request: bytes, connections: int, seconds: float, results: Any) -> None:
    counts: dict[int, int] = {}

    async def run() -> None:
        stop_at = time.monotonic() + seconds
        await asyncio.gather(*(_connection(port, request, stop_at, counts) for _ in range(connections)))

    asyncio.run(run())
    results.put(counts)


def _load(port: int, request: bytes, clients: int, connections: int, seconds: float) -> dict[str, Any]:
    results: Any = mp.Queue()
    workers = [mp.Process(target=_client, args=(port, request, connections, seconds, results)) for _ in range(clients)]
    started = time.monotonic()
    for worker in workers:
        worker.start()
    totals: dict[int, int] = {}
    for _ in workers:
        for status, count in results.get().items():
            totals[status] = totals.get(status, 0) + count
    for worker in workers:
        worker.join()
    elapsed = time.monotonic() - started
    return {"requests_per_second": round(sum(totals.values()) / elapsed), "statuses": totals}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--flags", type=int, default=500)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--clients", type=int, default=2)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--server-src", type=Path, default=None, help="serve flagward from this src directory")
    parser.add_argument("--label", default="polling", help="the results file's name")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        server_env = {"PYTHONPATH": str(args.server_src.resolve())} if args.server_src else {}
        server = ServerProcess(
            database_url=f"sqlite:///{Path(tmp) / 'bench.db'}", workdir=Path(tmp), extra_env=server_env
        )
        try:
            server.start(timeout=180)  # a busy machine starts slowly
            with rest(server.url, server.admin_token) as api:
                env = api.create_project("bench")["production"]
                make_flags(api, env, args.flags)
                first = httpx.get(f"{server.url}/sdk/latest-all", headers={"Authorization": env.sdk_key})
                assert len(first.json()["flags"]) == args.flags
                etag = first.headers["etag"]
                base = f"GET /sdk/latest-all HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: {env.sdk_key}\r\n"
                variants = {
                    "full_body": base + "\r\n",
                    "if_none_match_304": base + f"If-None-Match: {etag}\r\n\r\n",
                    "full_body_gzip": base + "Accept-Encoding: gzip\r\n\r\n",
                }
                runs = {}
                for name, request in variants.items():
                    runs[name] = _load(server.port, request.encode(), args.clients, args.connections, args.seconds)
        finally:
            server.stop()
    report(
        args.label,
        {
            "server_src": str(args.server_src) if args.server_src else "this checkout",
            "flags": args.flags,
            "body_bytes": len(first.content),
            "client_processes": args.clients,
            "connections_per_client": args.connections,
            "seconds": args.seconds,
            "runs": runs,
        },
    )


if __name__ == "__main__":
    main()
