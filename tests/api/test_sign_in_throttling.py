"""Sign-in throttling against real ``flagward serve`` processes: concurrent guesses never get past the
limit (also across two processes on one PostgreSQL), X-Forwarded-For is believed only from a named
proxy, and nobody elsewhere can lock an account's owner out.

Each test signs in from loopback addresses of its own (127.0.0.N: Linux routes all of 127/8 to the
loopback interface), so the server sees real, distinct client addresses without trusting any header."""

from __future__ import annotations

import asyncio
import itertools
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import launchdarkly_api
import pytest

from tests.support import accounts, ldapi
from tests.support.accounts import PASSWORD
from tests.support.databases import database_url, fresh_postgres_database
from tests.support.server import ServerProcess

# Failures per email and address, and per address over every email: smaller than the defaults (10 and 50)
# to keep the tests fast, as every failure costs a password hash check.
LIMIT = 3
ADDRESS_LIMIT = 5
LIMITS_ENV = {"FLAGWARD_LOGIN_FAILURE_LIMIT": str(LIMIT), "FLAGWARD_LOGIN_ADDRESS_FAILURE_LIMIT": str(ADDRESS_LIMIT)}
_hosts = itertools.count(2)


def _source() -> str:
    """A loopback address no other test of this module signs in from."""
    n = next(_hosts)
    return f"127.0.{n // 250}.{n % 250 + 1}"


@pytest.fixture(scope="module")
def server(module_store_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """Default forwarding (none trusted), on SQLite and on PostgreSQL."""
    workdir = tmp_path_factory.mktemp("server")
    with ServerProcess(database_url=module_store_url, workdir=workdir, extra_env=LIMITS_ENV) as process:
        yield process


@pytest.fixture(scope="module")
def admin(server: ServerProcess) -> Iterator[launchdarkly_api.ApiClient]:
    with ldapi.client(server.url, server.admin_token) as api_client:
        yield api_client


@pytest.fixture(scope="module")
def proxied(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """A server behind a reverse proxy at 127.0.0.1, named with ``--forwarded-allow-ips``."""
    workdir = tmp_path_factory.mktemp("proxied")
    with (
        database_url("sqlite", workdir) as url,
        ServerProcess(
            database_url=url, workdir=workdir, extra_env=LIMITS_ENV, extra_args=["--forwarded-allow-ips", "127.0.0.1"]
        ) as process,
    ):
        yield process


def _login(
    server: ServerProcess, email: str, password: str, *, source: str, forwarded: str | None = None
) -> httpx.Response:
    headers = {"X-Forwarded-For": forwarded} if forwarded else {}
    with httpx.Client(transport=httpx.HTTPTransport(local_address=source), timeout=60) as client:
        return client.post(f"{server.url}/auth/login", json={"email": email, "password": password}, headers=headers)


def _guesses(urls: list[str], email: str, *, clients: int, each: int, source: str) -> Counter[int]:
    """``clients`` concurrent clients (spread over ``urls``), each guessing ``each`` times in a row."""

    async def client(url: str) -> list[int]:
        transport = httpx.AsyncHTTPTransport(local_address=source)
        async with httpx.AsyncClient(transport=transport, timeout=120) as http:
            body = {"email": email, "password": "a wrong guess"}
            return [(await http.post(f"{url}/auth/login", json=body)).status_code for _ in range(each)]

    async def run() -> list[list[int]]:
        return await asyncio.gather(*(client(urls[i % len(urls)]) for i in range(clients)))

    return Counter(status for statuses in asyncio.run(run()) for status in statuses)


def _assert_rate_limited(response: httpx.Response, window_seconds: int = 900) -> None:
    assert response.status_code == 429, response.text
    assert response.json()["code"] == "rate_limited"
    assert response.json()["message"]
    assert 1 <= int(response.headers["Retry-After"]) <= window_seconds


@pytest.mark.parametrize(("clients", "each"), [(8, 2), (40, 1)])
def test_concurrent_guesses_never_get_past_the_limit(
    server: ServerProcess, admin: launchdarkly_api.ApiClient, clients: int, each: int
) -> None:
    member = accounts.invite(admin, "reader")
    source = _source()
    statuses = _guesses([server.url], member.email, clients=clients, each=each, source=source)
    assert statuses == {401: LIMIT, 429: clients * each - LIMIT}
    _assert_rate_limited(_login(server, member.email, PASSWORD, source=source))


@pytest.mark.postgres
def test_two_processes_on_one_postgresql_share_the_limit(tmp_path: Path) -> None:
    with (
        fresh_postgres_database() as url,
        ServerProcess(database_url=url, workdir=tmp_path, extra_env=LIMITS_ENV) as first,  # migrates first
        ServerProcess(database_url=url, workdir=tmp_path, extra_env=LIMITS_ENV) as second,
    ):
        with ldapi.client(first.url, first.admin_token) as admin:
            member = accounts.invite(admin, "reader")
        statuses = _guesses([first.url, second.url], member.email, clients=40, each=1, source=_source())
    assert statuses == {401: LIMIT, 429: 40 - LIMIT}


def test_rotating_x_forwarded_for_does_not_bypass_the_limits(
    server: ServerProcess, admin: launchdarkly_api.ApiClient
) -> None:
    member = accounts.invite(admin, "reader")
    source = "127.0.0.1"  # the address uvicorn trusts by default (no other test here fails from it)
    forwarded = (f"10.0.{i // 250}.{i % 250 + 1}" for i in itertools.count())
    for _ in range(LIMIT):
        assert _login(server, member.email, "wrong", source=source, forwarded=next(forwarded)).status_code == 401
    _assert_rate_limited(_login(server, member.email, PASSWORD, source=source, forwarded=next(forwarded)))
    for _ in range(ADDRESS_LIMIT - LIMIT):  # spraying other emails, from "new" addresses each time
        sprayed = accounts.unique_email("sprayed")
        assert _login(server, sprayed, "wrong", source=source, forwarded=next(forwarded)).status_code == 401
    sprayed = accounts.unique_email("sprayed")
    _assert_rate_limited(_login(server, sprayed, "wrong", source=source, forwarded=next(forwarded)))


def test_x_forwarded_for_is_believed_from_a_named_proxy_only(proxied: ServerProcess) -> None:
    with ldapi.client(proxied.url, proxied.admin_token) as admin:
        member = accounts.invite(admin, "reader")
    for _ in range(LIMIT):  # through the proxy, for one client behind it
        assert _login(proxied, member.email, "wrong", source="127.0.0.1", forwarded="203.0.113.1").status_code == 401
    _assert_rate_limited(_login(proxied, member.email, PASSWORD, source="127.0.0.1", forwarded="203.0.113.1"))
    # another client behind the proxy is another address
    assert _login(proxied, member.email, PASSWORD, source="127.0.0.1", forwarded="203.0.113.2").status_code == 200
    # a peer that is not the proxy cannot pick its address with the header
    source = _source()
    for i in range(LIMIT):
        assert _login(proxied, member.email, "wrong", source=source, forwarded=f"198.51.100.{i}").status_code == 401
    _assert_rate_limited(_login(proxied, member.email, PASSWORD, source=source, forwarded="198.51.100.99"))


def test_an_attacker_elsewhere_cannot_lock_the_owner_out(
    server: ServerProcess, admin: launchdarkly_api.ApiClient
) -> None:
    member = accounts.invite(admin, "reader")
    attacker, owner = _source(), _source()
    for _ in range(LIMIT):
        assert _login(server, member.email, "wrong", source=attacker).status_code == 401
    _assert_rate_limited(_login(server, member.email, PASSWORD, source=attacker))
    signed_in = _login(server, member.email, PASSWORD, source=owner)
    assert signed_in.status_code == 200
    assert signed_in.json()["_id"] == member.id


def test_password_spraying_from_one_address_stops_that_address_only(
    server: ServerProcess, admin: launchdarkly_api.ApiClient
) -> None:
    member = accounts.invite(admin, "reader")
    sprayer = _source()
    for _ in range(ADDRESS_LIMIT):
        assert _login(server, accounts.unique_email("sprayed"), "Winter2026!", source=sprayer).status_code == 401
    _assert_rate_limited(_login(server, member.email, PASSWORD, source=sprayer))
    assert _login(server, member.email, PASSWORD, source=_source()).status_code == 200


def test_signing_in_clears_the_failures_of_that_email_and_address(
    server: ServerProcess, admin: launchdarkly_api.ApiClient
) -> None:
    member = accounts.invite(admin, "reader")
    source = _source()
    for _ in range(LIMIT - 1):
        assert _login(server, member.email, "typo", source=source).status_code == 401
    assert _login(server, member.email, PASSWORD, source=source).status_code == 200
    # more than LIMIT failures in all, but no more than LIMIT since the success (nor than ADDRESS_LIMIT:
    # the success took back its own attempt, not the failures)
    for _ in range(ADDRESS_LIMIT - (LIMIT - 1)):
        assert _login(server, member.email, "typo", source=source).status_code == 401
    _assert_rate_limited(_login(server, member.email, "typo", source=source))
