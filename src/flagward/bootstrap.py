"""The composition root: builds engines, units of work, brokers and services from settings."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

from sqlalchemy import Engine

from flagward import metrics
from flagward.config import Settings
from flagward.delivery import (
    Caller,
    Dispatcher,
    Doorbell,
    ExternalApprovalTransport,
    SmtpTransport,
    SocketResolver,
    StatusPoller,
    WebhookTransport,
)
from flagward.domain.outbox import MessageKind, RetryPolicy
from flagward.passwords import Argon2Hasher
from flagward.services.audit import CachedChainCheck
from flagward.services.ports import Deps, ExternalApprovalOptions, NotificationOptions, Transport, WebhookOptions
from flagward.storage.audit_verify import verify
from flagward.storage.engine import default_pool_size, make_engine
from flagward.storage.migrate import upgrade
from flagward.storage.observed import store_collector
from flagward.storage.unit_of_work import SqlUnitOfWorkFactory
from flagward.streaming.delivery import ListeningBroker, SdkDelivery
from flagward.streaming.hub import Hub
from flagward.streaming.memory import MemoryBroker
from flagward.streaming.source import ServiceSource


class SystemClock:
    def now_ms(self) -> int:
        return time.time_ns() // 1_000_000


@dataclass
class Services:
    settings: Settings
    engine: Engine
    deps: Deps
    sdk: SdkDelivery
    dispatcher: Dispatcher
    poller: StatusPoller
    collector: metrics.Collector

    def close(self) -> None:
        if metrics.store_collector_is(self.collector):
            metrics.use_store_collector(None)
        self.sdk.broker.close()
        self.engine.dispose()


def _broker(settings: Settings, engine: Engine) -> ListeningBroker:
    """Several processes share a PostgreSQL store, so changes travel through it (LISTEN/NOTIFY); a
    SQLite store has one server process (``storage.sqlite_file.serve_lock`` refuses a second), whose hub
    the broker feeds directly."""
    if engine.dialect.name == "postgresql":
        from flagward.streaming.pg_notify import PgNotifyBroker

        return PgNotifyBroker(engine.url.set(drivername="postgresql").render_as_string(hide_password=False))
    return MemoryBroker()


def pool_size(settings: Settings) -> int:
    """Each server process's PostgreSQL pool: the configured one, else its share of the default budget."""
    return settings.db_pool_size or default_pool_size(settings.workers)


def build_services(settings: Settings, *, migrate: bool = True) -> Services:
    engine = make_engine(settings.database_url, pool_size=pool_size(settings))
    if migrate:
        upgrade(engine)
    broker = _broker(settings, engine)
    uow = SqlUnitOfWorkFactory(engine, broker)
    doorbell = Doorbell()
    uow.on_outbox_commit = doorbell.ring
    notify = NotificationOptions(email=bool(settings.smtp_url), public_url=public_url(settings))
    external = ExternalApprovalOptions(
        allow_private=settings.webhook_allow_private,
        secrets=read_secret,
        callback_window_seconds=settings.external_approval_callback_window_seconds,
    )
    webhooks = WebhookOptions(allow_private=settings.webhook_allow_private, resolver=SocketResolver())
    clock = SystemClock()
    chain = CachedChainCheck(lambda: verify(engine), clock)
    deps = Deps(
        uow=uow,
        clock=clock,
        passwords=Argon2Hasher(),
        notify=notify,
        external=external,
        webhooks=webhooks,
        audit_chain=chain,
    )
    hub = Hub(ServiceSource(deps), heartbeat_seconds=settings.stream_heartbeat_seconds)
    dispatcher = _dispatcher(settings, deps, doorbell, single_process=engine.dialect.name == "sqlite")
    poller = StatusPoller(deps, _caller(settings), interval_seconds=settings.external_approval_poll_seconds)
    collector = store_collector(engine)
    metrics.use_store_collector(collector)
    return Services(
        settings=settings,
        engine=engine,
        deps=deps,
        sdk=SdkDelivery(hub, broker),
        dispatcher=dispatcher,
        poller=poller,
        collector=collector,
    )


def read_secret(name: str) -> str | None:
    """External approval services' shared secrets live in the server's environment, by the name their
    settings give (``serviceConfig.secretEnv``); read at each use, never stored."""
    return os.environ.get(name) or None


def _caller(settings: Settings) -> Caller:
    return Caller(
        secrets=read_secret,
        allow_private=settings.webhook_allow_private,
        timeout=settings.external_approval_timeout_seconds,
    )


def public_url(settings: Settings) -> str:
    return settings.public_origin.rstrip("/") or f"http://{settings.host}:{settings.port}"


def _dispatcher(settings: Settings, deps: Deps, doorbell: Doorbell, *, single_process: bool) -> Dispatcher:
    """The process's dispatcher, with a transport for each kind of message this configuration delivers."""
    transports: dict[str, Transport] = {
        MessageKind.EXTERNAL_APPROVAL: ExternalApprovalTransport(deps, _caller(settings)),
        MessageKind.WEBHOOK: WebhookTransport(deps, allow_private=settings.webhook_allow_private),
    }
    notes: list[str] = []
    if settings.smtp_url:
        transports[MessageKind.EMAIL] = SmtpTransport(
            settings.smtp_url, settings.smtp_from, timeout=settings.smtp_timeout_seconds
        )
    else:
        notes.append("e-mail is off: FLAGWARD_SMTP_URL is not set (notifications are in-app only)")
    policy = RetryPolicy(
        max_attempts=settings.delivery_max_attempts, base_ms=int(settings.delivery_retry_base_seconds * 1000)
    )
    return Dispatcher(
        deps,
        transports,
        policy=policy,
        lease_seconds=settings.delivery_lease_seconds,
        poll_seconds=settings.delivery_poll_seconds,
        release_on_start=single_process,
        doorbell=doorbell,
        notes=tuple(notes),
    )
