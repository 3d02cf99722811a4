"""A rolling restart of two processes on PostgreSQL behind nginx, configured with docs/nginx.conf, under
SDK polling, SDK streaming and REST load: no request nginx accepted fails, every stream reconnects
(through nginx, to whichever process is up) and sees the changes made after the restart."""

from __future__ import annotations

import json
import re
import shutil
import signal
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from tests.support.accounts import unique
from tests.support.databases import fresh_postgres_database
from tests.support.sdk import Env, rest, wait_until
from tests.support.server import ServerProcess, free_port

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "docs" / "nginx.conf"
POLLERS, READERS, REST_LOOPS = 4, 20, 2


def nginx_binary() -> str:
    found = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
    if found is None:
        pytest.fail("this test needs nginx: apt-get install -y nginx (scripts/test installs it when run as root)")
    return found


@contextmanager
def nginx(workdir: Path, port: int, upstreams: tuple[int, int]) -> Iterator[str]:
    """nginx running docs/nginx.conf, its addresses changed to ours, in a prefix of its own."""
    example = EXAMPLE.read_text()
    assert "127.0.0.1:8631" in example and "127.0.0.1:8632" in example and "listen 8630;" in example
    site = (
        example.replace("127.0.0.1:8631", f"127.0.0.1:{upstreams[0]}")
        .replace("127.0.0.1:8632", f"127.0.0.1:{upstreams[1]}")
        .replace("listen 8630;", f"listen 127.0.0.1:{port};")
    )
    prefix = workdir / "nginx"
    prefix.mkdir()
    (prefix / "flagward.conf").write_text(site)
    temp = "\n".join(
        f"    {kind}_temp_path {prefix}/{kind};" for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    (prefix / "nginx.conf").write_text(
        f"daemon off;\nworker_processes 1;\npid {prefix}/nginx.pid;\nerror_log {prefix}/error.log warn;\n"
        "events { worker_connections 4096; }\n"
        f"http {{\n    access_log {prefix}/access.log;\n{temp}\n    include {prefix}/flagward.conf;\n}}\n"
    )
    process = subprocess.Popen(
        [nginx_binary(), "-p", str(prefix), "-e", str(prefix / "error.log"), "-c", str(prefix / "nginx.conf")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: _answers(url) or process.poll() is not None, timeout=15)
        assert process.poll() is None, (prefix / "error.log").read_text()
        yield url
    finally:
        process.send_signal(signal.SIGQUIT)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _polls_served(server: ServerProcess) -> float:
    text = httpx.get(f"{server.url}/metrics").text
    found = re.search(r'^flagward_sdk_latest_all_responses_total\{status="304"\} (\S+)$', text, re.M)
    return float(found.group(1)) if found else 0.0


def _answers(url: str) -> bool:
    try:
        return httpx.get(f"{url}/healthz", timeout=1).status_code == 200
    except httpx.TransportError:
        return False


@dataclass
class Load:
    """Polling, streaming and REST loops through nginx; every failed request is kept."""

    url: str
    env: Env
    token: str
    flag: str
    stop: threading.Event = field(default_factory=threading.Event)
    failures: list[str] = field(default_factory=list)
    served: int = 0
    puts: list[int] = field(default_factory=list)
    latest: list[dict[str, object]] = field(default_factory=list)
    threads: list[threading.Thread] = field(default_factory=list)

    def start(self) -> None:
        self.puts = [0] * READERS
        self.latest = [{} for _ in range(READERS)]
        loops = [self._poll] * POLLERS + [self._rest] * REST_LOOPS
        self.threads = [threading.Thread(target=loop, daemon=True) for loop in loops]
        self.threads += [threading.Thread(target=self._read, args=(i,), daemon=True) for i in range(READERS)]
        for thread in self.threads:
            thread.start()

    def finish(self) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=15)

    def _record(self, what: str, response: httpx.Response | None, error: Exception | None = None) -> None:
        if error is not None:
            self.failures.append(f"{what}: {error!r}")
        elif response is not None and response.status_code not in (200, 304):
            self.failures.append(f"{what}: {response.status_code} {response.text[:200]}")
        else:
            self.served += 1

    def _poll(self) -> None:
        etag = ""
        with httpx.Client(base_url=self.url, timeout=30) as client:
            while not self.stop.is_set():
                headers = {"Authorization": self.env.sdk_key, "If-None-Match": etag}
                try:
                    response = client.get("/sdk/latest-all", headers=headers)
                except httpx.TransportError as exc:
                    self._record("poll", None, exc)
                    continue
                self._record("poll", response)
                etag = response.headers.get("etag", etag)

    def _rest(self) -> None:
        with httpx.Client(base_url=self.url, timeout=30, headers={"Authorization": self.token}) as client:
            while not self.stop.is_set():
                try:
                    response = client.get(f"/api/v2/flags/{self.env.project}/{self.flag}")
                except httpx.TransportError as exc:
                    self._record("rest", None, exc)
                    continue
                self._record("rest", response)

    def _read(self, index: int) -> None:
        """An SDK's stream: reconnect at once whenever the server ends it (as the SDKs do)."""
        headers = {"Authorization": self.env.sdk_key}
        with httpx.Client(base_url=self.url, timeout=httpx.Timeout(30, read=None)) as client:
            while not self.stop.is_set():
                try:
                    with client.stream("GET", "/all", headers=headers) as response:
                        if response.status_code != 200:
                            self._record("stream", response)
                            continue
                        self._follow(index, response)
                except (httpx.TransportError, httpx.StreamError) as exc:
                    if not self.stop.is_set() and self.puts[index] == 0:
                        self._record("stream", None, exc)

    def _follow(self, index: int, response: httpx.Response) -> None:
        event = ""
        for line in response.iter_lines():
            if self.stop.is_set():
                return
            if line.startswith("event:"):
                event = line[6:].strip()
            elif line.startswith("data:"):
                data = json.loads(line[5:])
                if event == "put":
                    self.puts[index] += 1
                    self.latest[index] = data["data"]["flags"].get(self.flag, {})
                elif event == "patch" and data["path"] == f"/flags/{self.flag}":
                    self.latest[index] = data["data"]


def test_a_rolling_restart_behind_nginx_loses_no_accepted_request(tmp_path: Path) -> None:
    with fresh_postgres_database() as url:
        first = ServerProcess(database_url=url, workdir=tmp_path, extra_args=["--forwarded-allow-ips", "127.0.0.1"])
        second = ServerProcess(database_url=url, workdir=tmp_path, extra_args=["--forwarded-allow-ips", "127.0.0.1"])
        with first, second, nginx(tmp_path, free_port(), (first.port, second.port)) as front:
            with rest(front, first.admin_token) as api:
                env = api.create_project()["production"]
                flag = unique("rolling")
                api.create_flag(env.project, flag)
            load = Load(front, env, first.admin_token, flag)
            load.start()
            try:
                wait_until(lambda: all(load.puts) and load.served > 50, timeout=30)
                for server in (first, second):
                    before = load.served
                    assert server.process is not None
                    server.process.send_signal(signal.SIGTERM)
                    assert server.process.wait(timeout=30) == 0, server.logs()
                    wait_until(lambda b=before: load.served > b + 50, timeout=30)  # the other one serves
                    server.start()
                    # As an operator would: the next one only once this one takes traffic again.
                    wait_until(lambda s=server: _polls_served(s) > 0, timeout=30)
                with rest(front, first.admin_token) as api:
                    api.turn_on(env.project, flag, env.key)
                    on = api.http.get(f"/api/v2/flags/{env.project}/{flag}").json()["environments"][env.key]
                wait_until(lambda: all(latest.get("on") is True for latest in load.latest), timeout=30)
            finally:
                load.finish()
    assert load.failures == [], "\n".join(load.failures[:20])
    assert on["on"] is True
    assert all(count >= 2 for count in load.puts), load.puts  # each stream reconnected at least once
    assert load.served > 200
    assert not re.search(r"Traceback", first.logs() + second.logs())
