"""Fan-out: a flag change → ``patch`` on many ``/all`` streams of one ``flagward serve``, with a lean reader.

One server process (SQLite, or ``--store postgres``), one flag. One reader process holds every stream
on raw non-blocking sockets with ``epoll`` (no asyncio, no parsing beyond finding ``event: patch``), so
that its CPU stays well below the server's. Each round turns the flag on or off through the REST API and
takes every stream's arrival time of the resulting ``patch`` against the moment the API response arrived.
Also reported: the server's own fan-out time (``flagward_sdk_fanout_seconds``), the CPU seconds of the
server and of the reader during the rounds, and the server's memory per stream.

    python -m bench.fanout [--streams 10000] [--rounds 20] [--store sqlite|postgres]

``--server-src DIR`` serves flagward from another checkout's ``src``, to compare the same load.
"""

from __future__ import annotations

import argparse
import contextlib
import multiprocessing as mp
import os
import re
import select
import socket
import tempfile
import time
from collections.abc import Iterator
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import httpx
from tests.support.databases import fresh_postgres_database
from tests.support.sdk import rest
from tests.support.server import ServerProcess

from bench._common import make_flags, percentile, report, rss_bytes

PATCH = b"event: patch"
PUT = b"event: put"


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _reader(port: int, sdk_key: str, count: int, rounds: int, done: Any, pipe: Connection) -> None:
    """Hold ``count`` streams; ``done[i]`` counts the streams that saw patch number i+1."""
    request = f"GET /all HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: {sdk_key}\r\n\r\n".encode()
    poller = select.epoll()
    socks: dict[int, socket.socket] = {}
    puts: dict[int, int] = {}
    patches: dict[int, int] = {}
    tails: dict[int, bytes] = {}
    arrivals: dict[int, list[float]] = {}
    for _ in range(count):
        sock = socket.create_connection(("127.0.0.1", port))
        sock.sendall(request)
        sock.setblocking(False)
        fd = sock.fileno()
        socks[fd], puts[fd], patches[fd], tails[fd], arrivals[fd] = sock, 0, 0, b"", []
        poller.register(fd, select.EPOLLIN)
    ready = False
    with_put = 0
    started_cpu = 0.0
    while True:
        if ready and pipe.poll():
            break
        for fd, _ in poller.poll(0.05):
            try:
                data = socks[fd].recv(1 << 16)
            except BlockingIOError:
                continue
            if not data:
                poller.unregister(fd)
                continue
            now = time.time()
            text = tails[fd] + data
            tails[fd] = data[-16:]
            if not puts[fd] and PUT in text:
                with_put += 1
            puts[fd] += text.count(PUT)
            found = text.count(PATCH)
            for _ in range(found):
                if patches[fd] < rounds + 1:
                    done[patches[fd]] += 1
                patches[fd] += 1
                arrivals[fd].append(now)
        if not ready and with_put == count:
            ready = True
            started_cpu = sum(os.times()[:2])
            pipe.send("ready")
    pipe.recv()
    cpu = sum(os.times()[:2]) - started_cpu
    for sock in socks.values():
        sock.close()
    pipe.send((list(arrivals.values()), cpu))


@contextlib.contextmanager
def _store(kind: str, tmp: Path) -> Iterator[str]:
    if kind == "postgres":
        with fresh_postgres_database() as url:
            yield url
    else:
        yield f"sqlite:///{tmp / 'fanout.db'}"


def _metric_sum_count(url: str) -> tuple[float, float]:
    text = httpx.get(f"{url}/metrics").text
    total = re.search(r"^flagward_sdk_fanout_seconds_sum (\S+)$", text, re.MULTILINE)
    count = re.search(r"^flagward_sdk_fanout_seconds_count (\S+)$", text, re.MULTILINE)
    return (float(total.group(1)) if total else 0.0), (float(count.group(1)) if count else 0.0)


def measure(streams: int, rounds: int, store: str, server_src: Path | None) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp, _store(store, Path(tmp)) as url:
        extra = {"PYTHONPATH": str(server_src.resolve())} if server_src else {}
        server = ServerProcess(database_url=url, workdir=Path(tmp), extra_env=extra).start(timeout=180)
        try:
            assert server.process is not None
            pid = server.process.pid
            with rest(server.url, server.admin_token) as api:
                env = api.create_project("fanout")["production"]
                (flag,) = make_flags(api, env, 1)
                httpx.get(f"{server.url}/sdk/latest-all", headers={"Authorization": env.sdk_key})
                rss_before = rss_bytes(pid)
                done = mp.Array("i", rounds + 1)
                parent, child = mp.Pipe()
                reader = mp.Process(target=_reader, args=(server.port, env.sdk_key, streams, rounds, done, child))
                reader.start()
                assert parent.recv() == "ready"
                rss_after = rss_bytes(pid)
                server_cpu = _cpu_seconds(pid)
                fanout_before = _metric_sum_count(server.url)
                answered = []
                for i in range(rounds + 1):  # round 0 warms up
                    kind = "turnFlagOff" if i % 2 == 0 else "turnFlagOn"  # make_flags left it on
                    api.semantic_patch(env.project, flag, env.key, {"kind": kind})
                    answered.append(time.time())
                    deadline = time.monotonic() + 60
                    while done[i] < streams:
                        if time.monotonic() > deadline:
                            raise TimeoutError(f"round {i}: {done[i]} of {streams} streams saw the patch")
                        time.sleep(0.001)
                server_cpu = _cpu_seconds(pid) - server_cpu
                fanout_after = _metric_sum_count(server.url)
                parent.send("stop")
                arrivals, reader_cpu = parent.recv()
                reader.join()
        finally:
            server.stop()
    after = [(a[i] - answered[i]) * 1000 for a in arrivals for i in range(1, rounds + 1)]
    last = [max(a[i] for a in arrivals) - answered[i] for i in range(1, rounds + 1)]
    changes = fanout_after[1] - fanout_before[1]
    return {
        "store": store,
        "server_src": str(server_src) if server_src else "this checkout",
        "streams": streams,
        "rounds": rounds,
        "ms_after_change_response": {
            "p50": round(percentile(after, 50), 1),
            "p99": round(percentile(after, 99), 1),
            "max": round(max(after), 1),
        },
        "ms_until_last_stream": {"p50": round(percentile(last, 50) * 1000, 1), "max": round(max(last) * 1000, 1)},
        "server_fanout_ms_mean": round((fanout_after[0] - fanout_before[0]) / changes * 1000, 1) if changes else None,
        "cpu_seconds_during_rounds": {"server": round(server_cpu, 2), "reader": round(reader_cpu, 2)},
        "server_bytes_per_stream": round((rss_after - rss_before) / streams),
        "load_average_1min": round(os.getloadavg()[0], 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--streams", type=int, default=10000)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--store", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--server-src", type=Path, default=None)
    parser.add_argument("--label", default="fanout")
    args = parser.parse_args()
    result = measure(args.streams, args.rounds, args.store, args.server_src)
    report(args.label, result)
    p = result["ms_after_change_response"]
    print(
        f"SUMMARY {args.streams} streams ({args.store}): after the change's response p50 {p['p50']} ms, "
        f"p99 {p['p99']} ms, max {p['max']} ms; server fan-out {result['server_fanout_ms_mean']} ms per change; "
        f"CPU server {result['cpu_seconds_during_rounds']['server']} s / reader "
        f"{result['cpu_seconds_during_rounds']['reader']} s; load {result['load_average_1min']}"
    )


if __name__ == "__main__":
    main()
