"""Benchmark 3: ``GET /sdk/latest-all`` with 500 flags, flagward beside nginx serving the same bytes.

One ``flagward serve`` started as by default (SQLite, log level info, access log on) with an environment of
500 flags (targets, a rule and a rollout each). The script writes the exact body flagward serves (and its
gzip form) to files, starts nginx with a generated configuration serving them (``gzip_static``, and 304
on ``If-None-Match`` through nginx's own ETag), then runs the same load generator against both,
interleaved (flagward, nginx, nginx, flagward, ...), for several rounds, three requests each:

- ``full``: the plain 378 KB body;
- ``gzip``: with ``Accept-Encoding: gzip``, as the SDKs send it (flagward's cached gzip form; nginx's
  ``gzip_static`` file);
- ``304``: with ``If-None-Match: <current ETag>``.

The load generator is wrk (``--connections`` connections, 2 threads) when installed, otherwise a Python
client. Each round's ratio is flagward's requests per second ÷ nginx's; the summary is the median ratio
per request, with the load average before and after:

    python -m bench.polling [--rounds 5] [--seconds 5] [--connections 32] [--nginx-workers 1]

Without nginx (``--no-nginx``, or when it is not installed), flagward alone is measured.
``--server-src DIR`` serves flagward from another checkout's ``src`` (``git archive <commit> src | tar -x
-C DIR``), to compare the same load against it.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import os
import re
import shutil
import signal
import statistics
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

import httpx
from tests.support.sdk import rest
from tests.support.server import ServerProcess

from bench._common import free_port, make_flags, report, wait_for

NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
WRK = shutil.which("wrk")
PATH = "/sdk/latest-all"


# ---- nginx


def _nginx_config(root: Path, port: int, workers: int) -> str:
    user = "user root root;\n" if os.geteuid() == 0 else ""
    temp = root / "temp"
    return f"""{user}worker_processes {workers};
daemon off;
pid {root / "nginx.pid"};
error_log {root / "error.log"} warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    client_body_temp_path {temp}/body;
    proxy_temp_path {temp}/proxy;
    fastcgi_temp_path {temp}/fastcgi;
    uwsgi_temp_path {temp}/uwsgi;
    scgi_temp_path {temp}/scgi;
    sendfile on;
    tcp_nopush on;
    keepalive_requests 1000000;
    etag on;
    gzip_static on;
    types {{ }}
    default_type application/json;
    server {{
        listen 127.0.0.1:{port};
        root {root / "www"};
        location = {PATH} {{
            add_header Cache-Control no-cache;
            add_header Vary Accept-Encoding;
        }}
    }}
}}
"""


class Nginx:
    """nginx serving ``body`` (and ``body_gzip`` through ``gzip_static``) at ``/sdk/latest-all``."""

    def __init__(self, root: Path, body: bytes, body_gzip: bytes, workers: int) -> None:
        self.root = root
        self.port = free_port()
        www = root / "www" / "sdk"
        www.mkdir(parents=True)
        (root / "temp").mkdir()
        (www / "latest-all").write_bytes(body)
        (www / "latest-all.gz").write_bytes(body_gzip)
        stamp = time.time() - 60
        os.utime(www / "latest-all", (stamp, stamp))
        os.utime(www / "latest-all.gz", (stamp, stamp))
        (root / "nginx.conf").write_text(_nginx_config(root, self.port, workers))
        assert NGINX is not None
        self.process = subprocess.Popen([NGINX, "-c", str(root / "nginx.conf"), "-p", str(root)])
        wait_for(lambda: _get(self.port, {}).status == 200, timeout=10)

    def stop(self) -> None:
        self.process.send_signal(signal.SIGQUIT)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


class _Raw:
    def __init__(self, status: int, headers: dict[str, str], body: bytes) -> None:
        self.status, self.headers, self.body = status, headers, body


def _get(port: int, headers: dict[str, str]) -> _Raw:
    """One request, the body as sent (urllib does not decompress)."""
    request = urllib.request.Request(f"http://127.0.0.1:{port}{PATH}", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return _Raw(response.status, {k.lower(): v for k, v in response.headers.items()}, response.read())
    except urllib.error.HTTPError as error:
        return _Raw(error.code, {k.lower(): v for k, v in error.headers.items()}, error.read())
    except OSError:
        return _Raw(0, {}, b"")


# ---- load generators


def _wrk(port: int, headers: dict[str, str], connections: int, seconds: float) -> dict[str, Any]:
    assert WRK is not None
    command = [WRK, "-t2", f"-c{connections}", f"-d{round(seconds)}s"]
    for name, value in headers.items():
        command += ["-H", f"{name}: {value}"]
    out = subprocess.run([*command, f"http://127.0.0.1:{port}{PATH}"], capture_output=True, text=True, check=True)
    rate = re.search(r"Requests/sec:\s+([\d.]+)", out.stdout)
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out.stdout)
    socket_errors = re.search(r"Socket errors: (.*)", out.stdout)
    assert rate is not None, out.stdout
    return {
        "requests_per_second": round(float(rate.group(1))),
        "non_2xx_3xx": int(errors.group(1)) if errors else 0,
        "socket_errors": socket_errors.group(1) if socket_errors else None,
    }


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


def _python_load(port: int, headers: dict[str, str], connections: int, seconds: float) -> dict[str, Any]:
    lines = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
    request = f"GET {PATH} HTTP/1.1\r\nHost: 127.0.0.1\r\n{lines}\r\n".encode()
    results: Any = mp.Queue()
    clients = 2
    per_client = max(1, connections // clients)
    workers = [mp.Process(target=_client, args=(port, request, per_client, seconds, results)) for _ in range(clients)]
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


def _load(port: int, headers: dict[str, str], connections: int, seconds: float) -> dict[str, Any]:
    loadavg = os.getloadavg()[0]
    if WRK is not None:
        result = _wrk(port, headers, connections, seconds)
    else:
        result = _python_load(port, headers, connections, seconds)
    return {**result, "load_average_1min_before": round(loadavg, 2)}


# ---- the benchmark


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--flags", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=int, default=5, help="per run")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--nginx-workers", type=int, default=1)
    parser.add_argument("--no-nginx", action="store_true")
    parser.add_argument("--log-level", default="info", help="flagward's (info is the default start)")
    parser.add_argument("--server-src", type=Path, default=None, help="serve flagward from this src directory")
    parser.add_argument("--label", default="polling", help="the results file's name")
    args = parser.parse_args()
    with_nginx = NGINX is not None and not args.no_nginx
    with tempfile.TemporaryDirectory() as tmp:
        os.chmod(tmp, 0o755)  # nginx's workers read the files
        server_env = {"FLAGWARD_LOG_LEVEL": args.log_level}
        if args.server_src:
            server_env["PYTHONPATH"] = str(args.server_src.resolve())
        server = ServerProcess(
            database_url=f"sqlite:///{Path(tmp) / 'bench.db'}", workdir=Path(tmp), extra_env=server_env
        )
        nginx: Nginx | None = None
        try:
            server.start(timeout=180)  # a busy machine starts slowly
            with rest(server.url, server.admin_token) as api:
                env = api.create_project("bench")["production"]
                make_flags(api, env, args.flags)
            auth = {"Authorization": env.sdk_key}
            assert len(httpx.get(f"{server.url}{PATH}", headers=auth).json()["flags"]) == args.flags
            plain = _get(server.port, auth)
            zipped = _get(server.port, {**auth, "Accept-Encoding": "gzip"})
            assert zipped.headers.get("content-encoding") == "gzip"
            targets = {"flagward": (server.port, plain.headers["etag"], auth)}
            if with_nginx:
                nginx = Nginx(Path(tmp) / "nginx", plain.body, zipped.body, args.nginx_workers)
                served = _get(nginx.port, {})
                assert served.body == plain.body
                assert _get(nginx.port, {"Accept-Encoding": "gzip"}).body == zipped.body
                assert _get(nginx.port, {"If-None-Match": served.headers["etag"]}).status == 304
                targets["nginx"] = (nginx.port, served.headers["etag"], {})
            rounds = _rounds(targets, args.rounds, args.connections, args.seconds)
        finally:
            if nginx is not None:
                nginx.stop()
            server.stop()
    summary = _summary(rounds, with_nginx)
    report(
        args.label,
        {
            "server_src": str(args.server_src) if args.server_src else "this checkout",
            "flagward_log_level": args.log_level,
            "flags": args.flags,
            "body_bytes": len(plain.body),
            "gzip_bytes": len(zipped.body),
            "load_generator": f"wrk -t2 -c{args.connections}" if WRK else f"python, {args.connections} connections",
            "nginx_workers": args.nginx_workers if with_nginx else None,
            "seconds_per_run": args.seconds,
            "summary": summary,
            "rounds": rounds,
        },
    )
    print(_summary_line(summary, with_nginx))


REQUESTS = {
    "full": lambda etag: {},
    "gzip": lambda etag: {"Accept-Encoding": "gzip"},
    "304": lambda etag: {"If-None-Match": etag},
}


def _rounds(
    targets: dict[str, tuple[int, str, dict[str, str]]], count: int, connections: int, seconds: int
) -> list[dict[str, dict[str, Any]]]:
    """Each request against each target, interleaved (the order flips every round)."""
    with_nginx = "nginx" in targets
    rounds: list[dict[str, dict[str, Any]]] = []
    for number in range(count):
        order = list(targets) if number % 2 == 0 else list(reversed(targets))
        this_round: dict[str, dict[str, Any]] = {}
        for name, headers_for in REQUESTS.items():
            this_round[name] = {}
            for target in order:
                port, etag, base = targets[target]
                this_round[name][target] = _load(port, {**base, **headers_for(etag)}, connections, seconds)
            if with_nginx:
                flagward = this_round[name]["flagward"]["requests_per_second"]
                this_round[name]["ratio"] = round(flagward / this_round[name]["nginx"]["requests_per_second"], 3)
        rounds.append(this_round)
        print(f"round {number + 1}: " + _line(this_round, with_nginx), flush=True)
    return rounds


def _summary(rounds: list[dict[str, dict[str, Any]]], with_nginx: bool) -> dict[str, Any]:
    summary: dict[str, Any] = {}
    for name in REQUESTS:
        entry: dict[str, Any] = {
            "flagward_median_rps": round(statistics.median(r[name]["flagward"]["requests_per_second"] for r in rounds))
        }
        if with_nginx:
            entry["nginx_median_rps"] = round(
                statistics.median(r[name]["nginx"]["requests_per_second"] for r in rounds)
            )
            entry["median_ratio"] = round(statistics.median(r[name]["ratio"] for r in rounds), 3)
            entry["ratios"] = [r[name]["ratio"] for r in rounds]
        summary[name] = entry
    return summary


def _summary_line(summary: dict[str, Any], with_nginx: bool) -> str:
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    parts = []
    for name, entry in summary.items():
        if with_nginx:
            parts.append(
                f"{name} {entry['median_ratio']:.2f} ({entry['flagward_median_rps']}/{entry['nginx_median_rps']} rps)"
            )
        else:
            parts.append(f"{name} {entry['flagward_median_rps']} rps")
    label = "flagward/nginx median ratios" if with_nginx else "flagward"
    return f"SUMMARY {label}: " + "; ".join(parts) + f"; load average now {load}"


def _line(this_round: dict[str, dict[str, Any]], with_nginx: bool) -> str:
    parts = []
    for name, runs in this_round.items():
        if with_nginx:
            parts.append(
                f"{name} {runs['flagward']['requests_per_second']}/{runs['nginx']['requests_per_second']}"
                f" = {runs['ratio']:.2f}"
            )
        else:
            parts.append(f"{name} {runs['flagward']['requests_per_second']}")
    return "; ".join(parts) + f" (load {os.getloadavg()[0]:.2f})"


if __name__ == "__main__":
    main()
