"""Webhook deliveries through the real transport, from real stores (SQLite, PostgreSQL) to a real HTTP
receiver: a receiver that never answers leaves the delivery dead after the limit, with its error in
the delivery log; addresses are checked when sent and the checked address is the one connected to
(a name that resolves to a private address is refused; one pinned to the receiver's address reaches it
whatever real DNS says); redirects are not followed; a deleted or switched-off webhook's deliveries
are given up."""

from __future__ import annotations

import asyncio
import dataclasses
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from flagward.bootstrap import SystemClock
from flagward.delivery import Dispatcher, WebhookTransport
from flagward.domain.accounts import Actor, ActorKind, Role
from flagward.domain.outbox import MessageKind, MessageStatus, OutboxMessage, RetryPolicy
from flagward.passwords import Argon2Hasher
from flagward.services import projects, webhooks
from flagward.services.ports import Deps, OutboxQuery, Page, WebhookOptions
from flagward.services.projects import NewProject
from flagward.services.webhooks import NewWebhook
from flagward.storage.engine import make_engine
from flagward.storage.migrate import upgrade
from flagward.storage.unit_of_work import SqlUnitOfWorkFactory
from tests.support.databases import database_url
from tests.support.receiver import receiving

STORES = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
ADMIN = Actor(kind=ActorKind.SERVICE_TOKEN, role=Role.ADMIN, token_id="t1", token_name="tests")


@pytest.fixture(params=STORES)
def deps(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Deps]:
    with database_url(request.param, tmp_path) as url:
        engine = make_engine(url)
        upgrade(engine)
        options = WebhookOptions(allow_private=True)
        yield Deps(uow=SqlUnitOfWorkFactory(engine), clock=SystemClock(), passwords=Argon2Hasher(), webhooks=options)
        engine.dispose()


class Pinned:
    """A resolver that answers every name with ``address`` (what a rebinding DNS server might do)."""

    def __init__(self, address: str) -> None:
        self.address = address
        self.asked: list[str] = []

    def resolve(self, host: str, port: int) -> list[str]:
        self.asked.append(host)
        return [self.address]


def dispatcher(deps: Deps, transport: WebhookTransport, attempts: int = 3) -> Dispatcher:
    return Dispatcher(deps, {MessageKind.WEBHOOK: transport}, policy=RetryPolicy(max_attempts=attempts, base_ms=20))


def drain(d: Dispatcher, until: Callable[[], bool], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not until() and time.monotonic() < deadline:
        asyncio.run(d.run_once())
        time.sleep(0.02)
    assert until()


def hook_and_change(deps: Deps, url: str, **fields: Any) -> tuple[str, OutboxMessage]:
    """A webhook for ``url`` and one audited change delivered to it; the delivery."""
    new = dataclasses.replace(NewWebhook(url=url, sign=False, on=True), **fields)
    created = webhooks.create_webhook(deps, actor=ADMIN, new=new)  # delivered to itself first
    projects.create_project(deps, actor=ADMIN, new=NewProject(key="shop", name="Shop"))
    return created.id, log(deps, created.id)[0]


def log(deps: Deps, webhook_id: str) -> list[OutboxMessage]:
    items, _ = webhooks.list_deliveries(deps, actor=ADMIN, webhook_id=webhook_id, page=Page(limit=50))
    return items


def test_a_receiver_that_never_answers_leaves_the_delivery_dead_with_its_error(deps: Deps) -> None:
    with receiving(hang=True) as receiver:
        webhook_id, _ = hook_and_change(deps, receiver.url)
        d = dispatcher(deps, WebhookTransport(deps, allow_private=True, timeout=0.3), attempts=3)
        drain(d, lambda: all(m.status is MessageStatus.DEAD for m in log(deps, webhook_id)))
        first = log(deps, webhook_id)[-1]
        assert (first.attempts, first.delivered_at) == (3, None)
        assert first.last_error is not None and "timed out" in first.last_error
        # the next delivery of the webhook waited behind the first (order), and then had its own tries
        assert len(receiver.requests) == 6


def test_a_name_resolving_to_a_private_address_is_refused_when_sent(deps: Deps) -> None:
    with receiving() as receiver:
        url = f"http://hooks.example.com:{receiver.port}/hook"
        webhook_id, _ = hook_and_change(deps, url)
        resolver = Pinned("127.0.0.1")  # the name was public when saved; now it points inside
        d = dispatcher(deps, WebhookTransport(deps, allow_private=False, resolver=resolver))  # type: ignore[arg-type]
        drain(d, lambda: all(m.status is MessageStatus.DEAD for m in log(deps, webhook_id)))
        assert receiver.requests == []
        message = log(deps, webhook_id)[-1]
        assert message.attempts == 1  # a refusal is not retried
        assert message.last_error is not None and "127.0.0.1 is a loopback address" in message.last_error


def test_the_connection_goes_to_the_checked_address_and_names_the_host(deps: Deps) -> None:
    with receiving() as receiver:
        url = f"http://webhooks.invalid:{receiver.port}/hook?source=flagward"  # .invalid never resolves
        webhook_id, _ = hook_and_change(deps, url)
        resolver = Pinned("127.0.0.1")
        d = dispatcher(deps, WebhookTransport(deps, allow_private=True, resolver=resolver))  # type: ignore[arg-type]
        drain(d, lambda: all(m.status is MessageStatus.SENT for m in log(deps, webhook_id)))
        assert resolver.asked and set(resolver.asked) == {"webhooks.invalid"}
        assert {r.headers["host"] for r in receiver.accepted} == {f"webhooks.invalid:{receiver.port}"}
        assert {r.path for r in receiver.accepted} == {"/hook?source=flagward"}


def test_redirects_are_not_followed(deps: Deps) -> None:
    hits: list[str] = []

    class Redirect(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            hits.append(self.path)
            self.send_response(307)
            self.send_header("Location", "http://169.254.169.254/latest/meta-data/")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Redirect)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        webhook_id, _ = hook_and_change(deps, f"http://127.0.0.1:{server.server_address[1]}/r")
        d = dispatcher(deps, WebhookTransport(deps, allow_private=True), attempts=1)
        drain(d, lambda: all(m.status is MessageStatus.DEAD for m in log(deps, webhook_id)))
        message = log(deps, webhook_id)[-1]
        assert message.last_status_code == 307
        assert message.last_error is not None and "redirects are not followed" in message.last_error
        assert hits == ["/r", "/r"]  # one attempt per delivery (two), and the Location was never asked for
    finally:
        server.shutdown()
        server.server_close()


def test_deliveries_of_a_deleted_or_switched_off_webhook_are_given_up(deps: Deps) -> None:
    with receiving() as receiver:
        off_id, _ = hook_and_change(deps, receiver.url)
        webhooks.patch_webhook(
            deps, actor=ADMIN, webhook_id=off_id, patch=[{"op": "replace", "path": "/on", "value": False}]
        )
        d = dispatcher(deps, WebhookTransport(deps, allow_private=True))
        drain(d, lambda: all(m.status is MessageStatus.DEAD for m in log(deps, off_id)))
        assert {m.last_error for m in log(deps, off_id)} == {"the webhook is off"}
        gone = webhooks.create_webhook(deps, actor=ADMIN, new=NewWebhook(url=receiver.url, sign=False, on=True))
        webhooks.delete_webhook(deps, actor=ADMIN, webhook_id=gone.id)
        asyncio.run(d.run_once())
        with deps.uow(write=False) as uow:
            left, _ = uow.outbox.find(OutboxQuery(kind=MessageKind.WEBHOOK, target=gone.id))
        assert {m.status for m in left} == {MessageStatus.DEAD}
        assert {m.last_error for m in left} == {"the webhook was deleted"}
        assert receiver.requests == []
