"""The machine's floor for a fan-out: what writing one event to N loopback TCP connections costs with no
server at all, so that ``bench.fanout`` and ``bench.propagation`` can be read against it.

``--writers`` processes (1 by default; 2 stands for ``flagward serve --workers 2``) each accept their
share of N connections and, each round, write the same bytes (``--bytes``, about a ``patch`` event of one
flag, chunk-framed) to every one of them in a tight loop of ``os.write`` calls: no event loop, framework,
HTTP or Python object per connection. One reader process holds all N connections on one ``epoll``, as
lean as the other benchmarks' readers. Reported per round: the writers' loop (ms, and µs per connection)
and each connection's arrival time after the round began (p50 / p99 / max); and the CPU seconds of the
writers and of the reader. A server cannot deliver to the last of N streams sooner than the floor's
max, on the same machine with the same reader.

    python -m bench.fanout_floor [--streams 10000] [--rounds 10] [--writers 1,2] [--bytes 800]
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import resource
import select
import socket
import time
from multiprocessing.connection import Connection
from typing import Any

from bench._common import percentile, report
from bench.propagation import raise_fd_limit


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _writer(listener: socket.socket, count: int, payload: bytes, pipe: Connection) -> None:
    raise_fd_limit(count + 64)
    fds = []
    for _ in range(count):
        conn, _ = listener.accept()
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        conn.setblocking(False)
        fds.append(conn)
    numbers = [c.fileno() for c in fds]
    pipe.send("ready")
    cpu = 0.0
    while pipe.recv() == "go":
        started_cpu = _cpu()
        started = time.monotonic()
        write = os.write
        for fd in numbers:
            write(fd, payload)
        ended = time.monotonic()
        cpu += _cpu() - started_cpu
        pipe.send((started, ended))
    pipe.send(cpu)


def _reader(ports: list[tuple[int, int]], size: int, rounds: int, pipe: Connection) -> None:
    total = sum(n for _, n in ports)
    raise_fd_limit(total + 64)
    poller = select.epoll()
    received: dict[int, int] = {}
    socks = []
    for port, n in ports:
        for _ in range(n):
            sock = socket.create_connection(("127.0.0.1", port))
            sock.setblocking(False)
            poller.register(sock.fileno(), select.EPOLLIN)
            received[sock.fileno()] = 0
            socks.append(sock)
    pipe.send("connected")
    cpu = 0.0
    for _ in range(rounds):
        pipe.recv()  # the round begins
        started_cpu = _cpu()
        arrivals: list[float] = []
        done = 0
        while done < total:
            events = poller.poll(1.0)
            now = time.monotonic()
            for fd, _ in events:
                data = os.read(fd, 65536)
                received[fd] += len(data)
                if received[fd] >= size:
                    received[fd] -= size
                    arrivals.append(now)
                    done += 1
        cpu += _cpu() - started_cpu
        pipe.send(arrivals)
    pipe.send(cpu)
    for sock in socks:
        sock.close()


def measure(streams: int, rounds: int, writers: int, size: int) -> dict[str, Any]:
    body = b"x" * (size - 8)
    payload = (b"%x\r\n" % len(body) + body + b"\r\n")[:size]
    shares = [streams // writers + (1 if i < streams % writers else 0) for i in range(writers)]
    procs, pipes, ports = [], [], []
    for share in shares:
        listener = socket.socket()
        listener.bind(("127.0.0.1", 0))
        listener.listen(4096)
        ours, theirs = mp.Pipe()
        proc = mp.Process(target=_writer, args=(listener, share, payload, theirs), daemon=True)
        proc.start()
        ports.append((listener.getsockname()[1], share))
        listener.close()
        procs.append(proc)
        pipes.append(ours)
    reader_pipe, theirs = mp.Pipe()
    reader = mp.Process(target=_reader, args=(ports, len(payload), rounds, theirs), daemon=True)
    reader.start()
    assert reader_pipe.recv() == "connected"
    for pipe in pipes:
        assert pipe.recv() == "ready"
    latencies: list[float] = []
    loops: list[float] = []
    last: list[float] = []
    for _ in range(rounds):
        time.sleep(0.3)
        reader_pipe.send("round")
        time.sleep(0.05)  # the reader is back in epoll_wait, as a real client would be
        for pipe in pipes:
            pipe.send("go")
        spans = [pipe.recv() for pipe in pipes]
        began = min(start for start, _ in spans)
        loops.append(max(end - start for start, end in spans) * 1000)
        arrivals = reader_pipe.recv()
        round_latencies = [(t - began) * 1000 for t in arrivals]
        latencies += round_latencies
        last.append(max(round_latencies))
    for pipe in pipes:
        pipe.send("stop")
    writer_cpu = sum(pipe.recv() for pipe in pipes)
    reader_cpu = reader_pipe.recv()
    for proc in [*procs, reader]:
        proc.join(10)
    per_writer = max(shares)
    return {
        "writers": writers,
        "streams": streams,
        "rounds": rounds,
        "bytes": len(payload),
        "loop_ms": {"p50": round(percentile(loops, 50), 1), "max": round(max(loops), 1)},
        "us_per_connection_per_writer": round(percentile(loops, 50) * 1000 / per_writer, 2),
        "ms_after_round_began": {
            "p50": round(percentile(latencies, 50), 1),
            "p99": round(percentile(latencies, 99), 1),
            "max": round(max(latencies), 1),
        },
        "cpu_seconds": {"writers": round(writer_cpu, 2), "reader": round(reader_cpu, 2)},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--streams", type=int, default=10000)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--writers", default="1,2", help="comma-separated writer process counts")
    parser.add_argument("--bytes", type=int, default=800, help="bytes written to each connection per round")
    parser.add_argument("--label", default="fanout-floor")
    args = parser.parse_args()
    raise_fd_limit(args.streams + 64)
    runs = []
    for writers in (int(w) for w in args.writers.split(",")):
        run = measure(args.streams, args.rounds, writers, args.bytes)
        runs.append(run)
        after = run["ms_after_round_began"]
        print(
            f"SUMMARY writers={writers} streams={args.streams} loop p50 {run['loop_ms']['p50']} ms "
            f"({run['us_per_connection_per_writer']} us per connection) arrival p50 {after['p50']} "
            f"p99 {after['p99']} max {after['max']} ms cpu writers {run['cpu_seconds']['writers']} s "
            f"reader {run['cpu_seconds']['reader']} s",
            flush=True,
        )
    report(args.label, {"runs": runs})


if __name__ == "__main__":
    main()
