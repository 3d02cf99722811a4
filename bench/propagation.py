"""Benchmark 2: propagation latency from an approval being applied to the patch reaching 10,000 streams.

PostgreSQL store, ``flagward serve --workers N`` for each N of ``--workers`` (default 1 and 2): the
streams connect to the server's one port, so with 2 workers the kernel spreads them over both, and the
apply lands on either (the other one learns of it through LISTEN/NOTIFY). Each round creates and
approves a request (turn the flag on, or off), then times ``POST .../apply``; every stream's arrival
time of the resulting ``patch`` is taken against the moment the apply response arrived.

The streams are read by ONE lean process: raw non-blocking sockets on one epoll, counting ``event:
patch`` in the bytes as they come (no HTTP or SSE library) and stamping every socket that one
``epoll.poll`` returns with the time it returned. Its CPU seconds during the rounds are reported next to
the server's (every worker's and the supervisor's), so one can see the reader did not starve the server.
Per-stream server memory is the growth of the workers' RSS from before the streams connect to after,
divided by the number of streams.

One command, one ``SUMMARY`` line per worker count (and the JSON in bench/results/propagation.json):

    FLAGWARD_TEST_POSTGRES_URL=postgresql://postgres@127.0.0.1:5432/postgres python -m bench.propagation
    python -m bench.propagation --streams 10000 --rounds 20 --workers 1,2   # the defaults
"""

from __future__ import annotations

import argparse
import errno
import multiprocessing as mp
import os
import resource
import select
import socket
import tempfile
import time
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import httpx
from tests.support.databases import fresh_postgres_database
from tests.support.sdk import Env, Rest, rest
from tests.support.server import ServerProcess

from bench._common import make_flags, percentile, report, rss_bytes

PATCH = b"event: patch"
PUT = b"event: put"
_TAIL = len(PATCH) - 1  # bytes kept between reads, so a marker split over two reads is still found once
_CONNECTING = 256  # connections opened but not yet answered with their put, at most


def raise_fd_limit(needed: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < needed:
        target = hard if hard == resource.RLIM_INFINITY else min(hard, max(needed, soft))
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < needed:
        raise SystemExit(f"need {needed} file descriptors, the hard limit is {hard} (raise it: ulimit -Hn)")


def cpu_seconds_self() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime


def children(pid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry))
    return found


# ---- the reader process


class LeanReader:
    """``count`` raw ``GET /all`` streams on one epoll (see the module docstring). Tells the parent,
    through ``pipe``, when every stream has its put ("ready") and when every stream has patch i
    ("round", i); at "stop", sends each stream's patch arrival times and this process's CPU seconds."""

    def __init__(self, port: int, sdk_key: str, count: int, rounds: int, pipe: Connection) -> None:
        raise_fd_limit(count + 64)
        self.port, self.count, self.rounds, self.pipe = port, count, rounds, pipe
        self.request = f"GET /all HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: {sdk_key}\r\n\r\n".encode()
        self.poller = select.epoll()
        self.poller.register(pipe.fileno(), select.EPOLLIN)
        self.socks: dict[int, socket.socket] = {}
        self.tails: dict[int, bytes] = {}
        self.patches: dict[int, int] = {}  # per stream: patches seen; -1 before its put
        self.arrivals: dict[int, list[float]] = {}
        self.reached = [0] * (rounds + 1)  # reached[i]: streams that saw patch i
        self.with_put = 0
        self.connecting = 0

    def open_more(self) -> None:
        while len(self.socks) < self.count and self.connecting < _CONNECTING:
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setblocking(False)
            code = sock.connect_ex(("127.0.0.1", self.port))
            if code not in (0, errno.EINPROGRESS):
                raise OSError(code, os.strerror(code))
            fd = sock.fileno()
            self.socks[fd] = sock
            self.tails[fd] = b""
            self.patches[fd] = -1
            self.arrivals[fd] = []
            self.poller.register(fd, select.EPOLLOUT)
            self.connecting += 1

    def received(self, fd: int, now: float) -> None:
        data = self.socks[fd].recv(262144)
        if not data:
            raise SystemExit(f"a stream ended after {self.patches[fd]} patch(es)")
        buffer = self.tails[fd] + data
        self.tails[fd] = buffer[-_TAIL:]
        if self.patches[fd] < 0:
            if PUT not in buffer:
                return
            self.patches[fd] = 0
            self.with_put += 1
            self.connecting -= 1
            buffer = buffer[buffer.index(PUT) :]
        for _ in range(buffer.count(PATCH)):
            index = self.patches[fd]
            if index <= self.rounds:
                self.arrivals[fd].append(now)
                self.reached[index] += 1
            self.patches[fd] = index + 1

    def run(self) -> None:
        started = time.monotonic()
        ready = False
        next_round = 0  # the first round whose completion was not reported yet
        self.open_more()
        while True:
            events = self.poller.poll(1.0, len(self.socks) + 1)
            now = time.time()  # when the data of every ready socket was there
            for fd, mask in events:
                if fd == self.pipe.fileno():
                    assert self.pipe.recv() == "stop"
                    self.pipe.send(([self.arrivals[f] for f in sorted(self.arrivals)], cpu_seconds_self()))
                    return
                if mask & select.EPOLLOUT:
                    self.socks[fd].send(self.request)  # a few hundred bytes into an empty send buffer
                    self.poller.modify(fd, select.EPOLLIN)
                else:
                    self.received(fd, now)
            self.open_more()
            if not ready and self.with_put == self.count:
                self.pipe.send(("ready", time.monotonic() - started, cpu_seconds_self()))
                ready = True
            while ready and next_round <= self.rounds and self.reached[next_round] == self.count:
                self.pipe.send(("round", next_round))
                next_round += 1


def _reader(port: int, sdk_key: str, count: int, rounds: int, pipe: Connection) -> None:
    LeanReader(port, sdk_key, count, rounds, pipe).run()


# ---- the measuring process


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


def _serving_pids(server: ServerProcess, workers: int) -> list[int]:
    """The processes holding streams: the server itself, or its ``workers`` workers once all answer."""
    assert server.process is not None
    if workers == 1:
        return [server.process.pid]
    seen: set[int] = set()
    deadline = time.monotonic() + 120
    while len(seen) < workers:
        if time.monotonic() > deadline:
            raise TimeoutError(f"only workers {seen} answered")
        try:
            seen.add(httpx.get(f"{server.url}/healthz", timeout=2.0).json()["pid"])
        except httpx.TransportError:
            time.sleep(0.1)
    assert seen == set(children(server.process.pid)), "every answering process is a worker of this server"
    return sorted(seen)


def _expect(pipe: Connection, kind: str, timeout: float) -> tuple[Any, ...]:
    if not pipe.poll(timeout):
        raise TimeoutError(f"the reader sent no {kind!r} within {timeout:.0f} s")
    message = pipe.recv()
    assert message[0] == kind, message
    return tuple(message)


def _measure(workers: int, streams: int, rounds: int) -> dict[str, Any]:
    raise_fd_limit(streams + 256)  # inherited by the server's processes
    with fresh_postgres_database() as url, tempfile.TemporaryDirectory() as tmp:
        server = ServerProcess(database_url=url, workdir=Path(tmp), extra_args=["--workers", str(workers)])
        server.start(timeout=120)
        try:
            assert server.process is not None
            pids = _serving_pids(server, workers)
            everyone = [server.process.pid, *(p for p in pids if p != server.process.pid)]
            with rest(server.url, server.admin_token) as api:
                env = api.create_project("bench")["production"]
                (flag,) = make_flags(api, env, 1)
                _require_approvals(api, env)
                rss_before = sum(rss_bytes(pid) for pid in pids)
                parent, child = mp.Pipe()
                reader = mp.Process(target=_reader, args=(server.port, env.sdk_key, streams, rounds, child))
                reader.start()
                _, connect_seconds, reader_cpu_connect = _expect(parent, "ready", 600)
                rss_after = sum(rss_bytes(pid) for pid in pids)
                held = {pid: len(os.listdir(f"/proc/{pid}/fd")) for pid in pids}
                server_cpu_start = sum(cpu_seconds(pid) for pid in everyone)
                times = []
                for i in range(rounds + 1):  # round 0 warms up
                    times.append(_round(api, env, flag, on=i % 2 == 1))  # make_flags left it on
                    _expect(parent, "round", 60)
                server_cpu = sum(cpu_seconds(pid) for pid in everyone) - server_cpu_start
                parent.send("stop")
                arrivals, reader_cpu_end = parent.recv()
                reader.join()
        finally:
            server.stop()
    after_response = [(s[i] - times[i][1]) * 1000 for s in arrivals for i in range(1, rounds + 1)]
    after_request = [(s[i] - times[i][0]) * 1000 for s in arrivals for i in range(1, rounds + 1)]
    last = [(max(s[i] for s in arrivals) - times[i][1]) * 1000 for i in range(1, rounds + 1)]
    reader_cpu = reader_cpu_end - reader_cpu_connect
    return {
        "workers": workers,
        "streams": streams,
        "rounds": rounds,
        "ms_after_apply_response": {
            "p50": round(percentile(after_response, 50), 1),
            "p99": round(percentile(after_response, 99), 1),
            "max": round(max(after_response), 1),
        },
        "ms_after_apply_request": {
            "p50": round(percentile(after_request, 50), 1),
            "p99": round(percentile(after_request, 99), 1),
        },
        "ms_until_last_stream_after_response": {"p50": round(percentile(last, 50), 1), "max": round(max(last), 1)},
        "apply_request_ms": {"p50": round(percentile([(t[1] - t[0]) * 1000 for t in times[1:]], 50), 1)},
        "connect_seconds": round(connect_seconds, 1),
        "file_descriptors_per_worker": held,
        "server_rss_per_stream_kib": round((rss_after - rss_before) / streams / 1024, 1),
        "cpu_seconds_during_rounds": {"readers": round(reader_cpu, 2), "server": round(server_cpu, 2)},
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
    }


def summary(run: dict[str, Any]) -> str:
    ms = run["ms_after_apply_response"]
    cpu = run["cpu_seconds_during_rounds"]
    ratio = cpu["readers"] / cpu["server"] if cpu["server"] else float("nan")
    load = " ".join(f"{x:.2f}" for x in run["load_average_after"])
    return (
        f"SUMMARY propagation workers={run['workers']} streams={run['streams']} rounds={run['rounds']}: "
        f"after the apply response p50={ms['p50']:.0f} ms p99={ms['p99']:.0f} ms max={ms['max']:.0f} ms; "
        f"server RSS {run['server_rss_per_stream_kib']:.1f} KiB/stream; "
        f"CPU during rounds readers={cpu['readers']:.2f} s server={cpu['server']:.2f} s "
        f"(readers/server {ratio:.2f}); load {load}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--streams", type=int, default=10000)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--workers", default="1,2", help="comma-separated worker counts, run in this order")
    args = parser.parse_args()
    counts = [int(n) for n in args.workers.split(",")]
    load_before = [round(x, 2) for x in os.getloadavg()]
    runs = []
    for workers in counts:
        runs.append(_measure(workers, args.streams, args.rounds))
        print(summary(runs[-1]), flush=True)
    report("propagation", {"load_average_before": load_before, "runs": runs})
    for run in runs:
        print(summary(run))


if __name__ == "__main__":
    main()
