"""flagward served in process, for API tests that need speed more than a real server process: the app
(its lifespan, SDK hub and scheduler) runs on an event loop in a thread of its own, reached through
httpx's ASGI transport, on a SQLite file."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI

from flagward.bootstrap import Services, build_services
from flagward.config import Settings
from flagward.http.app import create_app
from flagward.services.auth import ensure_owner_and_admin_token
from tests.support.accounts import unique

ADMIN = "api-in-process-admin-token-0123456789abc"


class InProcess:
    """A synchronous client for an app served in process: the app (its lifespan, SDK hub and scheduler)
    runs on an event loop in a thread of its own, reached through httpx's ASGI transport."""

    def __init__(self, app: FastAPI) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.stack = contextlib.AsyncExitStack()
        self.client: httpx.AsyncClient = self.run(self._open(app))

    async def _open(self, app: FastAPI) -> httpx.AsyncClient:
        await self.stack.enter_async_context(app.router.lifespan_context(app))
        transport = httpx.ASGITransport(app=app)
        return await self.stack.enter_async_context(httpx.AsyncClient(transport=transport, base_url="http://flagward"))

    def run(self, coroutine: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout=60)

    def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        response: httpx.Response = self.run(self.client.request(method, url, **kwargs))
        return response

    def post(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("POST", url, **kwargs)

    def get(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", url, **kwargs)

    def patch(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("PATCH", url, **kwargs)

    def delete(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("DELETE", url, **kwargs)

    def close(self) -> None:
        self.run(self.stack.aclose())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)
        self.loop.close()


class World:
    """One app in process, the owner's admin token (``ADMIN``), two writer and an admin service token."""

    def __init__(self, services: Services, client: InProcess) -> None:
        self.services, self.client = services, client
        self.writers = [self.token("writer"), self.token("writer")]
        self.admin = self.token("admin")

    def token(self, role: str) -> str:
        body = {"name": unique(role), "role": role, "serviceToken": True}
        response = self.client.post("/api/v2/tokens", json=body, headers={"Authorization": ADMIN})
        assert response.status_code == 201, response.text
        return str(response.json()["token"])


class SteppedClock:
    """The server's clock, moved forward by a test (``advance``) instead of waiting: real time plus an
    offset, so it never goes back."""

    def __init__(self) -> None:
        self.offset = 0

    def now_ms(self) -> int:
        return time.time_ns() // 1_000_000 + self.offset

    def advance(self, ms: int) -> None:
        self.offset += ms


@contextlib.contextmanager
def in_process_world(store: Path | str, *, clock: SteppedClock | None = None, **settings: Any) -> Iterator[World]:
    """``store``: a SQLite file, or a database URL; ``clock``: the clock every use case (and the app's
    scheduler) reads; ``settings``: Settings fields (``scheduler_interval_seconds=3600``: the background
    scheduler runs once, at start, and the test runs the services' ``run_due`` functions itself)."""
    url = store if isinstance(store, str) else f"sqlite:///{store}"
    services = build_services(Settings(database_url=url, **settings))
    if clock is not None:
        services.deps = dataclasses.replace(services.deps, clock=clock)
    ensure_owner_and_admin_token(services.deps, owner_email="owner@example.com", admin_token=ADMIN)
    client = InProcess(create_app(services.settings, services.deps, services.sdk))
    try:
        yield World(services, client)
    finally:
        client.close()
        services.close()
