"""``flagward serve``: start the server."""

from __future__ import annotations

import sys
from collections.abc import Callable
from types import FrameType

import uvicorn

from flagward.bootstrap import build_services
from flagward.config import Settings
from flagward.http.app import create_app
from flagward.services.auth import ensure_owner_and_admin_token
from flagward.storage.sqlite_file import serve_lock


def run(settings: Settings) -> None:
    """Serve until stopped. On SQLite, first take the store's serve lock (StoreInUse when another process
    serves it): its SDK fan-out lives in this process, so a second server would serve stale flags."""
    with serve_lock(settings.database_url):
        _serve(settings)


def _serve(settings: Settings) -> None:
    services = build_services(settings)
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
    app = create_app(settings, services.deps, services.sdk, services.dispatcher, services.poller)
    # uvicorn believes X-Forwarded-For from 127.0.0.1 by default; flagward believes it only from the
    # proxies the operator names, since sign-in throttling counts per client address.
    trusted = settings.forwarded_allow_ips.strip()
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level,
        timeout_graceful_shutdown=5,
        proxy_headers=bool(trusted),
        forwarded_allow_ips=trusted or None,
    )
    try:
        _Server(config, on_exit=services.sdk.shutdown_requested).run()
    finally:
        services.close()


class _Server(uvicorn.Server):
    """Ends SDK streams as soon as shutdown starts: they never end by themselves, and the graceful
    shutdown would otherwise wait its full timeout for them (SDKs reconnect elsewhere or later)."""

    def __init__(self, config: uvicorn.Config, *, on_exit: Callable[[], None]) -> None:
        super().__init__(config)
        self._on_exit = on_exit

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        self._on_exit()
        super().handle_exit(sig, frame)
