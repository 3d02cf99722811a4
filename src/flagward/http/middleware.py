"""ASGI middleware: X-HTTP-Method-Override tunnelling (request bodies: ``flagward.http.bodies``)."""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

_TUNNELLED = {b"PATCH", b"DELETE", b"PUT"}


class MethodOverride:
    """A POST carrying ``X-HTTP-Method-Override: PATCH|DELETE|PUT`` is routed as that method, for
    clients and proxies that only speak GET and POST (LaunchDarkly supports the same header)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST":
            for name, value in scope["headers"]:
                if name == b"x-http-method-override" and value.upper() in _TUNNELLED:
                    scope = dict(scope, method=value.upper().decode())
                    break
        await self.app(scope, receive, send)
