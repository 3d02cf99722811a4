"""``flagward serve``: start the server."""

from __future__ import annotations

import sys

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
    app = create_app(settings, services.deps)
    try:
        uvicorn.run(
            app,
            host=settings.host,
            port=settings.port,
            log_level=settings.log_level,
            timeout_graceful_shutdown=5,
        )
    finally:
        services.close()
