"""``flagward serve``: start the server."""

from __future__ import annotations

import logging
import signal
import socket
import sys
import threading
from collections.abc import Callable
from types import FrameType
from typing import Any

import uvicorn
from sqlalchemy.engine import make_url

from flagward import logs
from flagward.bootstrap import Services, build_services, pool_size
from flagward.config import Settings
from flagward.http.app import create_app
from flagward.http.observability import MetricsOnly
from flagward.http.sdk.fastpath import protocol_class
from flagward.services.auth import ensure_owner_and_admin_token
from flagward.storage.engine import CONNECTIONS_BESIDES_POOL, connections_needed, server_max_connections
from flagward.storage.sqlite_file import serve_lock

log = logging.getLogger("flagward.serve")


def run(settings: Settings, sockets: list[socket.socket]) -> int:
    """Serve on ``sockets`` (``cli.listen``: one per worker) until stopped; the exit status.

    One worker: this process serves, after taking a SQLite store's serve lock (StoreInUse when another
    process serves it): its SDK fan-out lives in this process, so a second server would serve stale
    flags. Several (PostgreSQL only, ``cli.workers``): this process applies the migrations and the owner
    bootstrap once, then starts and watches the worker processes, which serve."""
    logs.configure(settings.log_format, settings.log_level)
    log.info("starting", extra={"configuration": effective_configuration(settings)})
    if settings.workers > 1:
        from flagward.cli.workers import Supervisor

        return Supervisor(settings, sockets).run()
    with serve_lock(settings.database_url):
        services = build_services(settings)
        try:
            log_connection_budget(settings, server_max_connections(services.engine))
            bootstrap_account(settings, services)
        except BaseException:
            services.close()
            raise
        serve(settings, services, sockets[0], metrics_port=settings.metrics_port)
    return 0


def bootstrap_account(settings: Settings, services: Services) -> None:
    """The account's owner and admin token (``ensure_owner_and_admin_token``); a new token is shown once."""
    first = ensure_owner_and_admin_token(
        services.deps, owner_email=settings.owner_email, admin_token=settings.admin_token
    )
    if first is not None and first.restored:
        print(f"flagward: the account had no owner; {first.owner.email} is its owner again", file=sys.stderr)
    if first is not None and first.admin_token_secret is not None:
        # Shown once, on stderr, never logged: the store keeps only its hash.
        print(
            f"flagward: created the account owner {first.owner.email} and an admin access token:\n"
            f"  {first.admin_token_secret}\n"
            f"Use it as the Authorization header: curl -H 'Authorization: {first.admin_token_secret}' "
            f"http://{settings.host}:{settings.port}/api/v2/projects",
            file=sys.stderr,
            flush=True,
        )


def log_connection_budget(settings: Settings, max_connections: int | None) -> None:
    """How many PostgreSQL connections the server's processes may hold together (``max_connections``:
    the server's, None on SQLite); a warning when that is more than the server allows, since under load
    requests would then fail for want of a connection (README, "Several processes on one host")."""
    if max_connections is None:
        return
    size = pool_size(settings)
    needed = connections_needed(workers=settings.workers, pool_size=size)
    details = (
        f"{settings.workers} process(es) x (pool {size} + overflow {size} + {CONNECTIONS_BESIDES_POOL} for "
        "LISTEN/NOTIFY)"
    )
    if needed > max_connections:
        log.warning(
            "PostgreSQL connections: this server may open %d, %s, but PostgreSQL allows %d (max_connections) "
            "to every client together: under load, requests would fail for want of a connection. "
            "Lower --db-pool-size or --workers, or raise max_connections",
            needed,
            details,
            max_connections,
        )
    else:
        log.info("PostgreSQL connections: at most %d, %s, of max_connections %d", needed, details, max_connections)


def effective_configuration(settings: Settings) -> dict[str, Any]:
    """The settings in force, secrets redacted: fields marked ``repr=False`` (tokens, the SMTP URL) and
    the database URL's password."""
    shown: dict[str, Any] = {}
    for name, field in Settings.model_fields.items():
        value = getattr(settings, name)
        if not field.repr and value:
            value = "<redacted>"
        elif name == "database_url":
            value = make_url(value).render_as_string(hide_password=True)
        shown[name] = value
    return shown


def serve(settings: Settings, services: Services, sock: socket.socket, *, metrics_port: int) -> None:
    """Serve the API and the SDK endpoints on ``sock`` until a signal stops this process; closes
    ``services``. ``metrics_port``: /metrics on a port of its own (0: on ``sock``)."""
    app = create_app(settings, services.deps, services.sdk, services.dispatcher, services.poller)
    # uvicorn believes X-Forwarded-For from 127.0.0.1 by default; flagward believes it only from the
    # proxies the operator names, since sign-in throttling counts per client address.
    trusted = settings.forwarded_allow_ips.strip()
    config = uvicorn.Config(
        app,
        http=protocol_class(services.sdk.hub),  # the SDK hot paths, answered ahead of ASGI
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level,
        log_config=None,  # flagward.logs configured every logger
        access_log=False,  # http.observability writes flagward's own access log
        timeout_graceful_shutdown=settings.graceful_timeout,
        proxy_headers=bool(trusted),
        forwarded_allow_ips=trusted or None,
    )
    metrics_server = _metrics_server(settings, metrics_port)
    try:
        _Server(config, on_exit=services.sdk.shutdown_requested).run(sockets=[sock])
    finally:
        if metrics_server is not None:
            metrics_server.should_exit = True
        services.close()
    log.info("stopped")


def _metrics_server(settings: Settings, port: int) -> uvicorn.Server | None:
    """``--metrics-port``: /metrics on a port of its own, served by a thread (which takes no signals)."""
    if not port:
        return None
    server = uvicorn.Server(
        uvicorn.Config(
            MetricsOnly(settings.metrics_token),
            host=settings.host,
            port=port,
            log_config=None,
            access_log=False,
            lifespan="off",
        )
    )
    threading.Thread(target=server.run, name="flagward-metrics", daemon=True).start()
    return server


class _Server(uvicorn.Server):
    """Ends SDK streams as soon as shutdown starts: they never end by themselves, and the graceful
    shutdown would otherwise wait its full timeout for them (SDKs reconnect elsewhere or later).

    SIGTERM is the ordinary way to stop a server: once the graceful shutdown is done, the process exits
    0 (uvicorn would raise the signal again, ending the process "killed by SIGTERM")."""

    def __init__(self, config: uvicorn.Config, *, on_exit: Callable[[], None]) -> None:
        super().__init__(config)
        self._on_exit = on_exit

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        if not self.should_exit:
            log.info("shutting down (signal %d): SDK streams end now, requests in flight may finish", sig)
        self._on_exit()
        super().handle_exit(sig, frame)
        captured = getattr(self, "_captured_signals", None)
        if sig == signal.SIGTERM and isinstance(captured, list) and sig in captured:
            captured.remove(sig)
