"""The application factory."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI
from starlette.middleware import Middleware
from starlette.types import ASGIApp

from flagward import __version__
from flagward.config import Settings
from flagward.delivery import Dispatcher, StatusPoller
from flagward.domain.rate_limits import ApiLimits, SignInLimits
from flagward.domain.triggers import TriggerLimits
from flagward.http import console, docs, errors, openapi
from flagward.http.background import run_counter_pruning, run_evaluation_flush, run_scheduler
from flagward.http.bodies import RequestBodies
from flagward.http.middleware import MethodOverride
from flagward.http.observability import NoteRoute, Observed
from flagward.http.rate_limit_headers import RateLimitHeaders
from flagward.http.routes import (
    accounts,
    approval_integrations,
    approvals,
    expiring_targets,
    flag_changes,
    flag_statuses,
    flags,
    importing,
    notifications,
    projects,
    roles,
    schedules,
    segments,
    system,
    triggers,
    webhooks,
    workflows,
)
from flagward.http.sdk import evaluate as sdk_evaluate
from flagward.http.sdk import evalx as sdk_evalx
from flagward.http.sdk import events as sdk_events
from flagward.http.sdk import install as install_sdk
from flagward.http.sdk import polling as sdk_polling
from flagward.http.sdk.cors import ClientSideCors
from flagward.http.sdk.stream import SdkStreams
from flagward.services.flag_statuses import EvaluationRecorder
from flagward.services.ports import Deps
from flagward.streaming.delivery import SdkDelivery
from flagward.streaming.hub import Hub
from flagward.streaming.memory import MemoryBroker
from flagward.streaming.source import ServiceSource


def create_app(
    settings: Settings,
    deps: Deps,
    sdk: SdkDelivery | None = None,
    dispatcher: Dispatcher | None = None,
    poller: StatusPoller | None = None,
) -> FastAPI:
    """The application. ``sdk`` is the process's SDK delivery (``bootstrap`` builds it with the broker the
    units of work publish to); without it, SDKs are served but see no live changes. ``dispatcher`` delivers
    the outbox's messages while the app runs; without it, they wait for a process that has one. ``poller``
    reads external approval services' statuses while the app runs."""
    if sdk is None:
        sdk = SdkDelivery(Hub(ServiceSource(deps), heartbeat_seconds=settings.stream_heartbeat_seconds), MemoryBroker())

    evaluations = EvaluationRecorder()

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        stop = asyncio.Event()
        await sdk.start()
        scheduler = asyncio.create_task(run_scheduler(deps, settings.scheduler_interval_seconds, stop))
        flusher = asyncio.create_task(run_evaluation_flush(deps, evaluations, settings.flag_status_flush_seconds, stop))
        pruner = asyncio.create_task(run_counter_pruning(deps, COUNTER_PRUNE_SECONDS, stop))
        delivering = asyncio.create_task(dispatcher.run(stop)) if dispatcher is not None else None
        polling = asyncio.create_task(poller.run(stop)) if poller is not None else None
        # What start-up made (modules, routes, templates, SDK caches) lives as long as the process: keep it
        # out of the cyclic collector's full passes, whose pauses otherwise grow with it.
        gc.freeze()
        try:
            yield
        finally:
            stop.set()
            if delivering is not None:
                await delivering
            if polling is not None:
                await polling
            await scheduler
            await flusher
            await pruner
            await sdk.stop()

    app = _App(
        lifespan=lifespan,
        title="flagward",
        version=__version__,
        description="A self-hosted feature-management server that speaks LaunchDarkly's REST API v2.",
        docs_url=None,  # http.docs serves /docs with Swagger UI's files from the package, not a CDN
        openapi_url="/openapi.json",
        redoc_url=None,
    )
    app.state.settings = settings
    app.observed = lambda inner: Observed(
        inner,
        access_log=settings.access_log,
        metrics_token=settings.metrics_token,
        serve_metrics=settings.metrics_port == 0,
    )
    app.state.deps = deps
    app.state.sign_in_limits = sign_in_limits(settings)
    app.state.api_limits = api_limits(settings)
    app.state.trigger_limits = trigger_limits(settings)
    app.state.sdk = sdk
    app.state.sdk_hub = sdk.hub
    app.state.evaluations = evaluations
    errors.install(app)
    docs.install(app, openapi_url="/openapi.json")
    install_sdk(app)
    for router in (
        system.health,
        system.identity,
        system.session,
        system.auditlog,
        projects.router,
        projects.env_router,
        flags.router,
        flag_changes.router,
        segments.router,
        flag_statuses.router,
        approvals.router,
        approval_integrations.router,
        accounts.members,
        accounts.teams,
        accounts.tokens,
        notifications.router,
        webhooks.router,
        schedules.router,
        expiring_targets.router,
        triggers.router,
        roles.router,
        roles.members,
        roles.teams,
        workflows.router,
        importing.router,
        sdk_polling.router,
        sdk_events.router,
        sdk_evalx.router,
        sdk_evaluate.router,
    ):
        app.include_router(router)
    console.install(app)
    openapi.install(app)
    app.add_middleware(MethodOverride)
    app.add_middleware(ClientSideCors)
    app.add_middleware(SdkStreams)
    app.add_middleware(sdk_polling.LatestAll)
    app.add_middleware(RequestBodies, api_limit=settings.api_body_limit, events_limit=settings.events_body_limit)
    app.add_middleware(RateLimitHeaders)
    app.user_middleware.append(Middleware(NoteRoute))  # innermost (add_middleware puts each outermost)
    return app


COUNTER_PRUNE_SECONDS = 60.0


class _App(FastAPI):
    """FastAPI with ``http.observability.Observed`` around its whole middleware stack, outside the error
    middleware (which re-raises an unhandled error after answering 500)."""

    observed: Callable[[ASGIApp], ASGIApp] | None = None

    def build_middleware_stack(self) -> ASGIApp:
        stack = super().build_middleware_stack()
        return self.observed(stack) if self.observed is not None else stack


def sign_in_limits(settings: Settings) -> SignInLimits:
    return SignInLimits(
        per_account_and_address=settings.login_failure_limit,
        per_address=settings.login_address_failure_limit,
        window_ms=int(settings.login_failure_window_seconds * 1000),
    )


def api_limits(settings: Settings) -> ApiLimits:
    return ApiLimits(
        per_caller=settings.api_rate_limit,
        per_route=settings.api_route_rate_limit,
        window_ms=int(settings.api_rate_limit_window_seconds * 1000),
    )


def trigger_limits(settings: Settings) -> TriggerLimits:
    return TriggerLimits(
        window_ms=int(settings.trigger_window_seconds * 1000),
        per_address=settings.trigger_address_rate_limit,
        per_trigger=settings.trigger_rate_limit,
    )
