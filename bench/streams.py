"""Benchmark 1: concurrent ``/all`` streams held by one server process, and memory per stream.

For each stream count, a fresh ``flagward serve`` (SQLite) gets an environment with 20 flags; the client
(this process, raw sockets) opens the streams in batches and waits for every ``put``. Reported: the time
to open them all, the server's resident memory before and after, memory per stream, and how long one
flag change takes to reach every stream.

    python -m bench.streams [--counts 1000,10000]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import tempfile
import time
from pathlib import Path
from typing import Any

from tests.support.sdk import rest
from tests.support.server import ServerProcess

from bench._common import StreamClient, make_flags, report, rss_bytes


async def _open_all(port: int, sdk_key: str, count: int, batch: int = 500) -> tuple[list[StreamClient], list[Any]]:
    clients: list[StreamClient] = []
    tasks: list[Any] = []
    for start in range(0, count, batch):
        opened = await asyncio.gather(*(StreamClient.open(port, sdk_key) for _ in range(min(batch, count - start))))
        clients += opened
        tasks += [asyncio.ensure_future(c.run()) for c in opened]
        while sum(c.puts for c in opened) < len(opened):
            await asyncio.sleep(0.01)
    return clients, tasks


async def _measure(count: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        server = ServerProcess(database_url=f"sqlite:///{Path(tmp) / 'bench.db'}", workdir=Path(tmp))
        with server, rest(server.url, server.admin_token) as api:
            assert server.process is not None
            env = api.create_project("bench")["production"]
            make_flags(api, env, 20)
            # Warm up: the environment is loaded and the code paths have run once.
            warm, warm_tasks = await _open_all(server.port, env.sdk_key, 10)
            for client in warm:
                client.close()
            await asyncio.gather(*warm_tasks, return_exceptions=True)
            await asyncio.sleep(1.0)
            before = rss_bytes(server.process.pid)
            started = time.monotonic()
            clients, tasks = await _open_all(server.port, env.sdk_key, count)
            opened_in = time.monotonic() - started
            await asyncio.sleep(2.0)
            after = rss_bytes(server.process.pid)
            changed = time.monotonic()
            await asyncio.to_thread(api.semantic_patch, "bench", "flag-0000", "production", {"kind": "turnFlagOff"})
            while sum(c.patches for c in clients) < count:
                await asyncio.sleep(0.005)
            fan_out = time.monotonic() - changed
            for client in clients:
                client.close()
            await asyncio.gather(*tasks, return_exceptions=True)
    return {
        "streams": count,
        "open_all_seconds": round(opened_in, 2),
        "server_rss_before_mib": round(before / 2**20, 1),
        "server_rss_after_mib": round(after / 2**20, 1),
        "rss_per_stream_kib": round((after - before) / count / 1024, 1),
        "one_change_to_every_stream_ms": round(fan_out * 1000, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--counts", default="1000,10000")
    args = parser.parse_args()
    runs = []
    for count in (int(c) for c in args.counts.split(",")):
        runs.append(asyncio.run(_measure(count)))
        gc.collect()
    report("streams", {"runs": runs})


if __name__ == "__main__":
    main()
