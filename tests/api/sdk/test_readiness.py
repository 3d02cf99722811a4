"""A process that cannot serve SDKs yet answers 503 (SDKs retry within seconds), never 401 (which makes
them back off for minutes, or give up): before its hub has started, whatever the key."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from flagward.bootstrap import Services, build_services
from flagward.config import Settings
from flagward.http.app import create_app

pytestmark = pytest.mark.anyio

PATHS = [
    ("GET", "/all"),
    ("GET", "/flags"),
    ("GET", "/sdk/latest-all"),
    ("GET", "/sdk/latest-flags"),
    ("POST", "/bulk"),
    ("GET", "/msdk/evalx/contexts/eyJrZXkiOiJ1In0"),
]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def services(tmp_path: Path) -> Iterator[Services]:
    services = build_services(Settings(database_url=f"sqlite:///{tmp_path / 'ready.db'}"))
    yield services
    services.close()


def _app(services: Services) -> FastAPI:
    return create_app(services.settings, services.deps, services.sdk)


async def test_before_the_hub_starts_every_sdk_endpoint_answers_503(services: Services) -> None:
    transport = httpx.ASGITransport(app=_app(services))
    async with httpx.AsyncClient(transport=transport, base_url="http://flagward") as client:
        for method, path in PATHS:
            response = await client.request(method, path, headers={"Authorization": "sdk-unknown"}, json=[])
            assert response.status_code == 503, path
            assert response.json()["code"] == "service_unavailable"


async def test_once_started_unknown_keys_get_401(services: Services) -> None:
    app = _app(services)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://flagward") as client:
            for method, path in PATHS:
                response = await client.request(method, path, headers={"Authorization": "sdk-unknown"}, json=[])
                assert response.status_code == 401, path
