"""The REST API's own rate limit: off by default (no headers); when configured, each access token has its
own budgets, responses carry LaunchDarkly's X-Ratelimit-* headers and a 429 carries Retry-After. SDK
endpoints are never rate limited."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest

from flagward.bootstrap import build_services
from flagward.config import Settings
from flagward.domain.accounts import Role
from flagward.services.auth import create_token_for_member
from tests.conftest import STORES
from tests.support import accounts
from tests.support.databases import database_url
from tests.support.server import ServerProcess

GLOBAL, ROUTE, WINDOW_SECONDS = 4, 2, 60
RATE_HEADERS = ("x-ratelimit-global-remaining", "x-ratelimit-route-remaining", "x-ratelimit-reset")


@pytest.fixture(scope="module", params=STORES)
def limited(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """A server with the limits on, on a store of its own (one SQLite file is served by one process)."""
    env = {
        "FLAGWARD_API_RATE_LIMIT": str(GLOBAL),
        "FLAGWARD_API_ROUTE_RATE_LIMIT": str(ROUTE),
        "FLAGWARD_API_RATE_LIMIT_WINDOW_SECONDS": str(WINDOW_SECONDS),
    }
    workdir = tmp_path_factory.mktemp("limited")
    with (
        database_url(request.param, workdir) as url,
        ServerProcess(database_url=url, workdir=workdir, extra_env=env) as process,
    ):
        yield process


def _service_token(server: ServerProcess) -> str:
    """A new admin token with budgets of its own, made on the server's host as ``flagward tokens create``
    does (making it through the API would spend the admin token's budgets)."""
    services = build_services(Settings(database_url=server.database_url), migrate=False)
    try:
        _, secret = create_token_for_member(
            services.deps, email=Settings().owner_email, role=Role.ADMIN, name=accounts.unique("rl")
        )
    finally:
        services.close()
    return secret


def _get(server: ServerProcess, token: str, path: str = "/api/v2/projects") -> httpx.Response:
    return httpx.get(f"{server.url}{path}", headers={"Authorization": token})


def test_off_by_default_no_headers_no_limit(server: ServerProcess) -> None:
    for _ in range(3 * GLOBAL):
        response = _get(server, server.admin_token)
        assert response.status_code == 200
        assert not any(h in response.headers for h in RATE_HEADERS)


def test_each_token_gets_its_budgets_with_launchdarklys_headers(limited: ServerProcess) -> None:
    token, other = _service_token(limited), _service_token(limited)
    started_ms = time.time() * 1000
    for route_left in range(ROUTE - 1, -1, -1):
        response = _get(limited, token)
        assert response.status_code == 200
        assert int(response.headers["x-ratelimit-route-remaining"]) == route_left
    assert int(response.headers["x-ratelimit-global-remaining"]) == GLOBAL - ROUTE
    reset = int(response.headers["x-ratelimit-reset"])  # epoch milliseconds
    assert started_ms < reset <= started_ms + WINDOW_SECONDS * 1000 + 5000

    refused = _get(limited, token)  # the route's budget is spent
    assert refused.status_code == 429
    assert refused.json()["code"] == "rate_limited"
    assert refused.json()["message"] == "You've exceeded the API rate limit. Try again later."
    assert 1 <= int(refused.headers["retry-after"]) <= WINDOW_SECONDS
    assert refused.headers["x-ratelimit-route-remaining"] == "0"

    other_route = _get(limited, token, "/api/v2/caller-identity")  # a refused request spent nothing
    assert other_route.status_code == 200
    assert int(other_route.headers["x-ratelimit-global-remaining"]) == GLOBAL - ROUTE - 1
    assert _get(limited, other).status_code == 200  # another token, its own budget


def test_the_global_budget_spans_routes_and_errors_carry_the_headers(limited: ServerProcess) -> None:
    token = _service_token(limited)
    paths = ["/api/v2/projects", "/api/v2/caller-identity", "/api/v2/projects/no-such-project", "/api/v2/members"]
    responses = [_get(limited, token, path) for path in paths[:GLOBAL]]
    assert [r.status_code for r in responses[:3]] == [200, 200, 404]
    assert [r.headers["x-ratelimit-global-remaining"] for r in responses] == ["3", "2", "1", "0"]
    refused = _get(limited, token, "/api/v2/auditlog")
    assert refused.status_code == 429
    assert refused.headers["x-ratelimit-global-remaining"] == "0"
    assert "retry-after" in refused.headers


def test_sdk_endpoints_are_never_rate_limited(limited: ServerProcess) -> None:
    project = httpx.post(
        f"{limited.url}/api/v2/projects",
        json={"key": accounts.unique("rlsdk"), "name": "SDK"},
        headers={"Authorization": _service_token(limited)},
    )
    assert project.status_code == 201, project.text
    sdk_key = project.json()["environments"][0]["apiKey"]
    for _ in range(3 * GLOBAL):
        response = httpx.get(f"{limited.url}/sdk/latest-all", headers={"Authorization": sdk_key})
        assert response.status_code == 200
        assert not any(h in response.headers for h in RATE_HEADERS)
