"""The application factory."""

from __future__ import annotations

from fastapi import FastAPI

from flagward import __version__
from flagward.config import Settings
from flagward.http import errors
from flagward.http.middleware import MethodOverride
from flagward.http.routes import accounts, flags, projects, system
from flagward.services.auth import LoginThrottle
from flagward.services.ports import Deps


def create_app(settings: Settings, deps: Deps) -> FastAPI:
    app = FastAPI(
        title="flagward",
        version=__version__,
        description="A self-hosted feature-management server that speaks LaunchDarkly's REST API v2.",
        docs_url="/docs",
        openapi_url="/openapi.json",
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.deps = deps
    app.state.login_throttle = LoginThrottle()
    errors.install(app)
    for router in (
        system.health,
        system.identity,
        system.session,
        system.auditlog,
        projects.router,
        projects.env_router,
        flags.router,
        accounts.members,
        accounts.teams,
        accounts.tokens,
    ):
        app.include_router(router)
    app.add_middleware(MethodOverride)
    return app
