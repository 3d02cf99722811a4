"""The outbox and its dispatcher against real stores (SQLite, PostgreSQL) and a real SMTP server
(aiosmtpd): what is sent, retries with backoff, dead messages, rollbacks, and concurrent dispatchers."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from flagward.bootstrap import SystemClock
from flagward.delivery import Dispatcher, SmtpTransport
from flagward.domain.outbox import MessageKind, MessageStatus, NewMessage, OutboxMessage, RetryPolicy
from flagward.passwords import Argon2Hasher
from flagward.services.delivery import outbox_stats
from flagward.services.ports import Deps
from flagward.storage.engine import make_engine
from flagward.storage.migrate import upgrade
from flagward.storage.unit_of_work import SqlUnitOfWorkFactory
from tests.support.databases import database_url
from tests.support.smtp import silent_server, smtp_sink

STORES = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@pytest.fixture(params=STORES)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    with database_url(request.param, tmp_path) as url:
        engine = make_engine(url)
        upgrade(engine)
        engine.dispose()
        yield url


_ENGINES: list[Engine] = []


@pytest.fixture(autouse=True)
def _dispose_engines() -> Iterator[None]:
    yield
    _dispose_now()


def _dispose_now() -> None:
    while _ENGINES:
        _ENGINES.pop().dispose()


def deps_for(url: str) -> Deps:
    engine = make_engine(url)
    _ENGINES.append(engine)
    return Deps(uow=SqlUnitOfWorkFactory(engine), clock=SystemClock(), passwords=Argon2Hasher())


def mail(to: str = "ada@example.com", subject: str = "[flagward] Hello") -> NewMessage:
    payload = {"to": [to], "subject": subject, "text": "Plain words.\n", "html": "<p>Rich <b>words</b>.</p>"}
    return NewMessage(kind=MessageKind.EMAIL, payload=payload, target="m1")


def enqueue(deps: Deps, *messages: NewMessage) -> list[str]:
    with deps.uow() as uow:
        ids = [uow.outbox.add(m, now=deps.clock.now_ms()) for m in messages]
        uow.commit()
    return ids


def stored(deps: Deps, message_id: str) -> OutboxMessage:
    with deps.uow(write=False) as uow:
        found = uow.outbox.get(message_id)
    assert found is not None
    return found


def dispatcher(deps: Deps, url: str, *, timeout: float = 5.0, **options: Any) -> Dispatcher:
    transport = SmtpTransport(url, "flagward <flagward@flags.example.com>", timeout=timeout)
    return Dispatcher(deps, {MessageKind.EMAIL: transport}, **options)


def drain(d: Dispatcher, until: Any, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not until() and time.monotonic() < deadline:
        asyncio.run(d.run_once())
        time.sleep(0.02)
    assert until()


def test_an_email_has_its_recipient_subject_both_bodies_and_its_message_id(store: str) -> None:
    deps = deps_for(store)
    (message_id,) = enqueue(deps, mail())
    with smtp_sink() as (sink, url):
        assert asyncio.run(dispatcher(deps, url).run_once()) == 1
        (received,) = sink.received
    assert received.rcpt_tos == ["ada@example.com"]
    assert received.mail_from == "flagward@flags.example.com"
    assert received.message["Subject"] == "[flagward] Hello"
    assert received.message["Message-ID"] == f"<{message_id}@flags.example.com>"
    assert received.part("plain") == "Plain words.\n"
    assert "Rich <b>words</b>" in received.part("html")
    sent = stored(deps, message_id)
    assert (sent.status, sent.attempts, sent.last_error) == (MessageStatus.SENT, 1, None)
    assert outbox_stats(deps).pending == 0


def test_a_receiver_failing_twice_then_succeeding_gets_three_attempts_and_one_message(store: str) -> None:
    deps = deps_for(store)
    (message_id,) = enqueue(deps, mail())
    with smtp_sink(refuse=2) as (sink, url):
        d = dispatcher(deps, url, policy=RetryPolicy(max_attempts=5, base_ms=50))
        drain(d, lambda: stored(deps, message_id).status is MessageStatus.SENT)
        assert sink.attempts == 3 and len(sink.received) == 1
    sent = stored(deps, message_id)
    assert sent.attempts == 3 and sent.delivered_at is not None
    assert sent.last_error is not None and "451" in sent.last_error  # the failure before the success


def test_a_retry_waits_for_its_backoff(store: str) -> None:
    deps = deps_for(store)
    (message_id,) = enqueue(deps, mail())
    with smtp_sink(refuse=1) as (sink, url):
        d = dispatcher(deps, url, policy=RetryPolicy(max_attempts=5, base_ms=60_000))
        asyncio.run(d.run_once())
        failed = stored(deps, message_id)
        assert failed.status is MessageStatus.PENDING and failed.attempts == 1
        # half to all of the first delay (jitter)
        assert 30_000 <= failed.next_attempt_at - deps.clock.now_ms() <= 60_000
        assert asyncio.run(d.run_once()) == 0 and sink.attempts == 1
        stats = outbox_stats(deps)
        assert (stats.pending, stats.due, stats.retrying) == (1, 0, 1)


def test_a_receiver_that_never_answers_leaves_the_message_dead_with_its_error(store: str) -> None:
    deps = deps_for(store)
    (message_id,) = enqueue(deps, mail())
    with silent_server() as url:
        d = dispatcher(deps, url, timeout=0.3, policy=RetryPolicy(max_attempts=3, base_ms=20))
        drain(d, lambda: stored(deps, message_id).status is MessageStatus.DEAD)
    dead = stored(deps, message_id)
    assert dead.attempts == 3
    assert dead.last_error is not None and "timed out" in dead.last_error
    assert outbox_stats(deps).dead == 1


def test_a_permanent_refusal_is_dead_at_once(store: str) -> None:
    deps = deps_for(store)
    (message_id,) = enqueue(deps, mail(to="nobody@example.com"))
    with smtp_sink() as (sink, url):
        asyncio.run(dispatcher(deps, url).run_once())
        assert sink.received == []
    dead = stored(deps, message_id)
    assert dead.status is MessageStatus.DEAD and dead.attempts == 1
    assert dead.last_error is not None and "550" in dead.last_error


def test_a_rolled_back_change_sends_nothing(store: str) -> None:
    deps = deps_for(store)
    with deps.uow() as uow:
        uow.outbox.add(mail(), now=deps.clock.now_ms())
        uow.rollback()
    with deps.uow() as uow:
        uow.outbox.add(mail(), now=deps.clock.now_ms())  # left without commit: rolled back on exit
    with smtp_sink() as (sink, url):
        assert asyncio.run(dispatcher(deps, url).run_once()) == 0
        assert sink.attempts == 0
    assert outbox_stats(deps).pending == 0


def test_a_lease_keeps_others_off_until_it_ends_and_a_late_outcome_is_ignored(store: str) -> None:
    deps = deps_for(store)
    (message_id,) = enqueue(deps, mail())
    with deps.uow() as uow:
        (claimed,) = uow.outbox.claim(now=deps.clock.now_ms(), owner="a", lease_ms=200, limit=5, kinds=["email"])
        uow.commit()
    with deps.uow() as uow:
        assert uow.outbox.claim(now=deps.clock.now_ms(), owner="b", lease_ms=200, limit=5, kinds=["email"]) == []
        uow.commit()
    time.sleep(0.25)  # "a" was killed: its lease ends
    with deps.uow() as uow:
        (again,) = uow.outbox.claim(now=deps.clock.now_ms(), owner="b", lease_ms=5000, limit=5, kinds=["email"])
        assert uow.outbox.succeeded(message_id, owner="a", now=deps.clock.now_ms()) is False
        assert uow.outbox.succeeded(message_id, owner="b", now=deps.clock.now_ms()) is True
        uow.commit()
    assert (claimed.attempts, again.attempts, again.id) == (1, 2, message_id)


def test_messages_with_one_ordering_key_go_one_at_a_time_in_order(store: str) -> None:
    deps = deps_for(store)
    first, second = (NewMessage(kind="hook", payload={"n": n}, ordering_key="webhook:1") for n in (1, 2))
    other = NewMessage(kind="hook", payload={"n": 3}, ordering_key="webhook:2")
    enqueue(deps, first, second, other)
    with deps.uow() as uow:
        claimed = uow.outbox.claim(now=deps.clock.now_ms(), owner="a", lease_ms=50, limit=10, kinds=["hook"])
        uow.commit()
    assert sorted(m.payload["n"] for m in claimed) == [1, 3]
    with deps.uow() as uow:
        for m in claimed:
            uow.outbox.succeeded(m.id, owner="a", now=deps.clock.now_ms())
        (next_one,) = uow.outbox.claim(now=deps.clock.now_ms(), owner="a", lease_ms=50, limit=10, kinds=["hook"])
        uow.commit()
    assert next_one.payload == {"n": 2}


@pytest.mark.postgres
def test_concurrent_dispatchers_on_postgresql_send_each_message_once(tmp_path: Path) -> None:
    with database_url("postgres", tmp_path) as url:
        engine = make_engine(url)
        upgrade(engine)
        engine.dispose()
        deps = deps_for(url)
        ids = enqueue(deps, *(mail(to=f"m{i}@example.com") for i in range(60)))
        with smtp_sink() as (sink, smtp_url):
            workers = [dispatcher(deps_for(url), smtp_url, batch=5) for _ in range(3)]

            def work(d: Dispatcher) -> None:
                drain(d, lambda: len(sink.received) >= len(ids), timeout=30)

            threads = [threading.Thread(target=work, args=(d,)) for d in workers]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            received = [r.message["Message-ID"] for r in sink.received]
        assert len(received) == len(set(received)) == len(ids)
        assert all(stored(deps, i).attempts == 1 for i in ids)
        _dispose_now()
