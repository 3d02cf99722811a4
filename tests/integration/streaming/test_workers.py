"""``flagward serve --workers 2`` on PostgreSQL: two worker processes share the port and both take
connections, a flag change reaches SDK streams on either, a worker that dies is replaced, SIGTERM stops
them all; on SQLite, ``--workers 2`` is refused."""

from __future__ import annotations

import contextlib
import os
import selectors
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.support.accounts import unique
from tests.support.sdk import rest, wait_until
from tests.support.server import ServerProcess

pytestmark = pytest.mark.slow

STREAMS = 40  # spread by the kernel's hash: all on one worker has probability 2**-39


def _parent_of(pid: int) -> int:
    stat = Path(f"/proc/{pid}/stat").read_text()
    return int(stat.rsplit(")", 1)[1].split()[1])


def _workers_answering(url: str, count: int, timeout: float = 90.0) -> set[int]:
    """The pids /healthz reports over fresh connections, once ``count`` distinct ones answered."""
    seen: set[int] = set()

    def enough() -> bool:
        with contextlib.suppress(httpx.TransportError):
            seen.add(httpx.get(f"{url}/healthz", timeout=2.0).json()["pid"])
        return len(seen) >= count

    wait_until(enough, timeout=timeout, interval=0.05)
    return seen


def _socket_inodes(pid: int) -> set[int]:
    inodes = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(int(target[8:-1]))
    return inodes


def _holders(server_port: int, client_ports: list[int], pids: set[int]) -> dict[int, int]:
    """Which worker holds the server end of each client connection (by its local port): the kernel's
    table of TCP connections names the socket's inode, and each worker's descriptors name theirs."""
    inode_of_client: dict[int, int] = {}
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local_port = int(fields[1].split(":")[1], 16)
        remote_port = int(fields[2].split(":")[1], 16)
        if local_port == server_port and remote_port in client_ports:
            inode_of_client[remote_port] = int(fields[9])
    by_pid = {pid: _socket_inodes(pid) for pid in pids}
    return {
        client: pid for client, inode in inode_of_client.items() for pid, inodes in by_pid.items() if inode in inodes
    }


class Streams:
    """Raw ``GET /all`` connections read with one selector; what each received so far."""

    def __init__(self, port: int, sdk_key: str, count: int) -> None:
        self.selector = selectors.DefaultSelector()
        self.received: dict[socket.socket, bytes] = {}
        self.ended: set[socket.socket] = set()
        request = f"GET /all HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: {sdk_key}\r\n\r\n".encode()
        for _ in range(count):
            sock = socket.create_connection(("127.0.0.1", port), timeout=10)
            sock.sendall(request)
            sock.setblocking(False)
            self.selector.register(sock, selectors.EVENT_READ)
            self.received[sock] = b""

    def local_ports(self) -> dict[socket.socket, int]:
        return {sock: sock.getsockname()[1] for sock in self.received}

    def pump_until(self, done: object, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while not done() and (left := deadline - time.monotonic()) > 0:  # type: ignore[operator]
            for key, _ in self.selector.select(min(left, 0.2)):
                sock = key.fileobj
                assert isinstance(sock, socket.socket)
                try:
                    data = sock.recv(65536)
                except BlockingIOError:
                    continue
                except ConnectionResetError:
                    data = b""
                if data:
                    self.received[sock] += data
                else:
                    self.selector.unregister(sock)
                    self.ended.add(sock)
        return bool(done())  # type: ignore[operator]

    def close(self) -> None:
        for sock in self.received:
            sock.close()
        self.selector.close()


@pytest.mark.postgres
def test_two_workers_share_the_port_stream_every_change_and_stop_together_on_sigterm(
    postgres_url: str, tmp_path: Path
) -> None:
    server = ServerProcess(database_url=postgres_url, workdir=tmp_path, extra_args=["--workers", "2"])
    server.start(timeout=90)
    streams: Streams | None = None
    try:
        assert server.process is not None
        workers = _workers_answering(server.url, 2)
        assert len(workers) == 2
        assert {_parent_of(pid) for pid in workers} == {server.process.pid}  # two processes, both its workers

        with rest(server.url, server.admin_token) as api:
            env = api.create_project()["production"]
            key = unique("workers")
            api.create_flag(env.project, key)
            streams = Streams(server.port, env.sdk_key, STREAMS)
            assert streams.pump_until(lambda: all(b"event: put" in d for d in streams.received.values()), 30)
            ports = streams.local_ports()
            holders = _holders(server.port, list(ports.values()), workers)
            assert len(holders) == STREAMS, "every stream is held by one of the two workers"
            assert set(holders.values()) == workers, "both workers hold streams"

            api.turn_on(env.project, key, env.key)  # through whichever worker takes the request

            def patched() -> bool:
                assert streams is not None
                after_put = [d.split(b"event: patch", 1) for d in streams.received.values()]
                return all(len(parts) == 2 and key.encode() in parts[1] for parts in after_put)

            assert streams.pump_until(patched, 15), "the change reached the streams of both workers"

        # One worker dies: it is reported, replaced on the same socket, and the server keeps serving.
        victim = min(workers)
        os.kill(victim, signal.SIGKILL)
        replaced = wait_until(lambda: _workers_answering(server.url, 2, timeout=90) - {victim}, timeout=120)
        assert len(replaced) == 2 and victim not in replaced
        assert "was killed by SIGKILL" in server.logs()
        workers = replaced

        server.process.send_signal(signal.SIGTERM)
        assert server.process.wait(timeout=60) == 0
        # Every stream the remaining worker held ended (the others ended when their worker died).
        assert streams.pump_until(lambda: len(streams.ended) == STREAMS, 10)
        assert not [pid for pid in workers if Path(f"/proc/{pid}").exists()]  # reaped by the supervisor
        with pytest.raises(httpx.TransportError):
            httpx.get(f"{server.url}/healthz", timeout=2.0)
    finally:
        if streams is not None:
            streams.close()
        server.stop()


@pytest.mark.parametrize("how", ["option", "environment"])
def test_sqlite_refuses_more_than_one_worker(tmp_path: Path, how: str) -> None:
    env = dict(os.environ, FLAGWARD_DATABASE_URL=f"sqlite:///{tmp_path}/flagward.db")
    args = [sys.executable, "-m", "flagward", "serve", "--port", "0"]
    if how == "option":
        args += ["--workers", "2"]
    else:
        env["FLAGWARD_WORKERS"] = "2"
    done = subprocess.run(args, check=False, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert "--workers 2 needs PostgreSQL" in done.stderr
    assert "A SQLite store is served by one process" in done.stderr
    assert not (tmp_path / "flagward.db").exists()  # refused before creating anything
