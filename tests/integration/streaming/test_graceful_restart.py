"""SIGTERM under load: every SDK stream ends at once (SDKs reconnect instead of waiting out a read
timeout), the process exits 0, and once it is back on the same port the official SDK has the change
made while it was down within 2 seconds."""

from __future__ import annotations

import selectors
import signal
import socket
import threading
import time
from pathlib import Path

import pytest
from ldclient import Context

from tests.support.accounts import unique
from tests.support.sdk import rest, sdk_client, wait_until
from tests.support.server import ServerProcess

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

STREAMS = 500


class RawStreams:
    """Many SDK streams at the cost of a socket each: the request is written by hand, the put is read,
    and then we only wait for the server to hang up."""

    def __init__(self, port: int, sdk_key: str, count: int) -> None:
        self.selector = selectors.DefaultSelector()
        self.open: set[socket.socket] = set()
        self.received: dict[socket.socket, bytes] = {}
        request = f"GET /all HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: {sdk_key}\r\n\r\n".encode()
        for _ in range(count):
            sock = socket.create_connection(("127.0.0.1", port), timeout=10)
            sock.sendall(request)
            sock.setblocking(False)
            self.selector.register(sock, selectors.EVENT_READ)
            self.open.add(sock)
            self.received[sock] = b""

    def pump(self, timeout: float) -> None:
        """Read whatever arrives for up to ``timeout`` seconds; sockets the server closed leave ``open``."""
        deadline = time.monotonic() + timeout
        while self.open and (left := deadline - time.monotonic()) > 0:
            for key, _ in self.selector.select(left):
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
                    sock.close()
                    self.open.discard(sock)

    def with_put(self) -> int:
        return sum(1 for data in self.received.values() if b"event: put" in data)

    def close(self) -> None:
        for sock in self.open:
            sock.close()
        self.selector.close()


def test_sigterm_ends_every_stream_exits_0_and_the_sdk_catches_up_within_2s_of_the_restart(
    postgres_url: str, tmp_path: Path
) -> None:
    server = ServerProcess(database_url=postgres_url, workdir=tmp_path, extra_args=["--graceful-timeout", "30"])
    other = ServerProcess(database_url=postgres_url, workdir=tmp_path)
    with other, rest(other.url, other.admin_token) as api:
        env = api.create_project()["production"]
        key = unique("restart")
        api.create_flag(env.project, key)
        server.start()
        user = Context.create("patient")
        with sdk_client(server.url, env.sdk_key) as client:
            assert client.variation_detail(key, user, None).reason == {"kind": "OFF"}
            raw = RawStreams(server.port, env.sdk_key, STREAMS)
            try:
                raw.pump(0.5)
                wait_until(lambda: raw.pump(0.1) or raw.with_put() == STREAMS, timeout=60)

                # Watch what the SDK serves, every 10 ms, from now on.
                seen: list[tuple[float, str]] = []
                watching = threading.Event()
                watching.set()

                def watch() -> None:
                    while watching.is_set():
                        seen.append((time.monotonic(), client.variation_detail(key, user, None).reason["kind"]))
                        time.sleep(0.01)

                watcher = threading.Thread(target=watch, daemon=True)
                watcher.start()

                assert server.process is not None
                server.process.send_signal(signal.SIGTERM)
                raw.pump(10.0)  # every stream ends at once, far within the 30 s graceful timeout
                assert raw.open == set(), f"{len(raw.open)} of {STREAMS} streams still open after SIGTERM"
                assert server.process.wait(timeout=10) == 0, server.logs()

                api.turn_on(env.project, key, env.key)  # while it is down, through the other process
                server.start()  # the same port
                back = time.monotonic()
                wait_until(lambda: client.variation_detail(key, user, None).reason == {"kind": "FALLTHROUGH"})
                wait_until(lambda: seen[-1][1] == "FALLTHROUGH")  # the watcher saw it too
                watching.clear()
                watcher.join()
            finally:
                raw.close()
    server.stop()
    stale_after_restart = [at for at, kind in seen if at > back and kind == "OFF"]
    fresh = [at for at, kind in seen if kind == "FALLTHROUGH"]
    assert fresh, "the SDK never served the change"
    print(f"stale after restart: {max(stale_after_restart, default=back) - back:.3f}s")
    # The SDK served the old value at most 2 s after the server was back (its reconnect had been
    # waiting in the listen queue, bound before start-up).
    assert max(stale_after_restart, default=back) - back <= 2.0, max(stale_after_restart) - back
    assert "Traceback" not in server.logs()
