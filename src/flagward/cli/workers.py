"""``flagward serve --workers N``: N server processes on one host, sharing the port.

The process ``flagward serve`` started (the supervisor) binds one ``SO_REUSEPORT`` socket per worker
(``cli.listen``), applies the migrations and the owner/admin-token bootstrap once, then starts each worker
as a fresh interpreter (``python -m flagward.cli.workers``) that inherits its socket, reads the settings
from its stdin and serves like a single ``flagward serve`` process: its own SDK streams, payloads,
scheduler and outbox dispatcher, kept current by the PostgreSQL fan-out (``streaming.pg_notify``) like
processes on different hosts. The kernel spreads new connections over the workers' sockets.

Signals: SIGTERM or SIGINT to the supervisor closes its copies of the sockets and passes SIGTERM to every
worker, which shuts down gracefully (``cli.serve``); a second signal is passed on too, and makes the
workers stop at once, as it would a single process. Workers that are still running
``--graceful-timeout`` + 10 s later are killed. Workers run in their own process group, so a Ctrl-C on a
terminal reaches them once, through the supervisor; a worker whose supervisor is gone (even killed
with SIGKILL) sees its stdin end and stops by itself.

A worker that exits on its own (a crash, the OOM killer) is reported at ``error`` with its status and
replaced at once by a new worker on the same socket; connections that arrived on that socket meanwhile
wait in its listen queue, which the supervisor keeps open. A server whose workers keep dying (more than
``MAX_RESTARTS`` within ``RESTART_WINDOW_SECONDS``) is broken, not unlucky: the supervisor then stops
every worker and exits 1, so that the process manager (systemd, Kubernetes) sees the failure.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass
from types import FrameType

from flagward.config import Settings

log = logging.getLogger("flagward.workers")

MAX_RESTARTS = 5
RESTART_WINDOW_SECONDS = 60.0
_KILL_AFTER_GRACE_SECONDS = 10.0
_POLL_SECONDS = 0.1


@dataclass
class _Worker:
    index: int
    process: subprocess.Popen[bytes]


class Supervisor:
    """Starts, watches and stops the worker processes; ``run`` returns the exit status."""

    def __init__(self, settings: Settings, sockets: list[socket.socket]) -> None:
        self._settings = settings
        self._sockets = sockets
        self._workers: dict[int, _Worker] = {}
        self._signals: list[int] = []
        self._deaths: deque[float] = deque()

    def run(self) -> int:
        previous = {sig: signal.signal(sig, self._on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
        try:
            self._bootstrap()
            for index in range(len(self._sockets)):
                if not self._signals:
                    self._start(index)
            failed = self._watch()
            clean = self._stop()
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        log.info("stopped")
        return 1 if failed or not clean else 0

    def _on_signal(self, sig: int, frame: FrameType | None) -> None:
        self._signals.append(sig)

    def _bootstrap(self) -> None:
        """Migrations and the owner/admin token, once, before any worker starts (they skip both); the
        connections the workers may open, against the server's max_connections."""
        from flagward.bootstrap import build_services
        from flagward.cli.serve import bootstrap_account, log_connection_budget
        from flagward.storage.engine import server_max_connections

        services = build_services(self._settings)
        try:
            log_connection_budget(self._settings, server_max_connections(services.engine))
            bootstrap_account(self._settings, services)
        finally:
            services.close()

    def _start(self, index: int) -> None:
        sock = self._sockets[index]
        process = subprocess.Popen(
            [sys.executable, "-m", "flagward.cli.workers", str(sock.fileno()), str(index)],
            stdin=subprocess.PIPE,
            pass_fds=(sock.fileno(),),
            process_group=0,  # terminal signals reach the supervisor only; it passes them on once
        )
        assert process.stdin is not None
        try:
            process.stdin.write(self._settings.model_dump_json().encode() + b"\n")
            process.stdin.flush()  # the pipe stays open: its end tells the worker the supervisor is gone
        except BrokenPipeError:
            pass  # it died at once: _watch reports it
        self._workers[index] = _Worker(index, process)
        log.info("worker %d/%d started (pid %d)", index + 1, len(self._sockets), process.pid)

    def _forget(self, worker: _Worker) -> None:
        """An exited worker: its pipe is closed (a replacement gets a new one)."""
        del self._workers[worker.index]
        if worker.process.stdin is not None:
            worker.process.stdin.close()

    def _watch(self) -> bool:
        """Until a signal comes, replace workers that exit; True when they keep dying."""
        while not self._signals:
            for worker in list(self._workers.values()):
                status = worker.process.poll()
                if status is None:
                    continue
                self._forget(worker)
                log.error(
                    "worker %d (pid %d) %s; its SDK streams reconnect",
                    worker.index + 1,
                    worker.process.pid,
                    _describe(status),
                )
                now = time.monotonic()
                self._deaths.append(now)
                while self._deaths and self._deaths[0] < now - RESTART_WINDOW_SECONDS:
                    self._deaths.popleft()
                if len(self._deaths) > MAX_RESTARTS:
                    log.error(
                        "workers exited %d times within %.0f s: stopping the server",
                        len(self._deaths),
                        RESTART_WINDOW_SECONDS,
                    )
                    return True
                self._start(worker.index)
            time.sleep(_POLL_SECONDS)
        return False

    def _stop(self) -> bool:
        """Stop every worker (see the module docstring); True when each exited by itself, with status 0."""
        for sock in self._sockets:
            sock.close()  # new connections are refused once the workers close theirs
        passed_on = 0
        if not self._signals:
            self._signals.append(signal.SIGTERM)  # the workers keep dying: stop the others
        deadline = time.monotonic() + self._settings.graceful_timeout + _KILL_AFTER_GRACE_SECONDS
        clean = True
        while self._workers:
            for sig in self._signals[passed_on:]:
                log.info("passing signal %d on to %d worker(s)", sig, len(self._workers))
                for worker in self._workers.values():
                    _signal(worker.process, signal.SIGTERM)
            passed_on = len(self._signals)
            for worker in list(self._workers.values()):
                status = worker.process.poll()
                if status is not None:
                    self._forget(worker)
                    if status != 0:
                        clean = False
                        log.error("worker %d (pid %d) %s", worker.index + 1, worker.process.pid, _describe(status))
            if self._workers and time.monotonic() > deadline:
                for worker in self._workers.values():
                    log.error("worker %d (pid %d) did not stop in time: killed", worker.index + 1, worker.process.pid)
                    _signal(worker.process, signal.SIGKILL)
                    worker.process.wait()
                self._workers.clear()
                clean = False
            time.sleep(_POLL_SECONDS)
        return clean


def _signal(process: subprocess.Popen[bytes], sig: int) -> None:
    if process.poll() is None:
        process.send_signal(sig)


def _describe(status: int) -> str:
    if status < 0:
        try:
            name = signal.Signals(-status).name
        except ValueError:
            name = str(-status)
        return f"was killed by {name}"
    return f"exited with status {status}"


# ---- the worker process


def _stop_with_supervisor() -> None:
    """Block until stdin ends (the supervisor closed it or is gone), then stop this worker gracefully."""
    while os.read(0, 4096):  # unbuffered: a buffered reader's lock would trouble the interpreter's exit
        pass
    os.kill(os.getpid(), signal.SIGTERM)


def worker_main(argv: list[str]) -> None:
    from flagward import logs
    from flagward.bootstrap import build_services
    from flagward.cli.serve import serve

    fd, index = int(argv[0]), int(argv[1])
    line = b""
    while not line.endswith(b"\n"):
        chunk = os.read(0, 65536)
        if not chunk:
            raise SystemExit("flagward worker: no settings on stdin (started by `flagward serve --workers`)")
        line += chunk
    settings = Settings.model_validate_json(line)
    sock = socket.socket(fileno=fd)
    logs.configure(settings.log_format, settings.log_level)
    threading.Thread(target=_stop_with_supervisor, name="flagward-supervisor-watch", daemon=True).start()
    services = build_services(settings, migrate=False)  # the supervisor applied them
    metrics_port = settings.metrics_port + index if settings.metrics_port else 0
    serve(settings, services, sock, metrics_port=metrics_port)


if __name__ == "__main__":
    worker_main(sys.argv[1:])
