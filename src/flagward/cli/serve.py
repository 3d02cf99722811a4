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


def run(settings: Settings) -> None:
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
    app = create_app(settings, services.deps, services.sdk)
    config = uvicorn.Config(
        app, host=settings.host, port=settings.port, log_level=settings.log_level, timeout_graceful_shutdown=5
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
