"""ASGI middleware: X-HTTP-Method-Override tunnelling, and refusing NUL characters."""

from __future__ import annotations

import re

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from flagward.http.errors import error_response

_TUNNELLED = {b"PATCH", b"DELETE", b"PUT"}
_GUARDED = ("/api/", "/auth/")
# A JSON "\u0000" escape: an odd run of backslashes before u0000 (an even run is an escaped backslash).
_JSON_NUL = re.compile(rb"(?<!\\)(?:\\\\)*\\u0000")


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


class RefuseNul:
    """Answer 400 to a request carrying U+0000 in its path, query or body.

    PostgreSQL cannot store NUL in text or JSON columns (it would fail deep in a transaction, as a
    500), and no LaunchDarkly key, name or value needs it; refusing it here keeps both stores alike.
    Request bodies of the API are small JSON documents or CSV uploads, so reading one ahead is cheap.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(_GUARDED):
            await self.app(scope, receive, send)  # SDK endpoints pass SDK data through untouched
            return
        if "\x00" in scope["path"] or b"%00" in scope["query_string"]:
            await _refuse(scope, receive, send, "the URL must not contain NUL (U+0000) characters")
            return
        messages: list[Message] = []
        more = scope["method"] in ("POST", "PUT", "PATCH", "DELETE")
        while more:
            message = await receive()
            messages.append(message)
            more = message["type"] == "http.request" and message.get("more_body", False)
        body = b"".join(m.get("body", b"") for m in messages)
        if b"\x00" in body or _JSON_NUL.search(body):
            await _refuse(scope, receive, send, "the request body must not contain NUL (U+0000) characters")
            return
        await self.app(scope, _replay(messages, receive), send)


def _replay(messages: list[Message], receive: Receive) -> Receive:
    pending = list(messages)

    async def replayed() -> Message:
        return pending.pop(0) if pending else await receive()

    return replayed


async def _refuse(scope: Scope, receive: Receive, send: Send, message: str) -> None:
    await error_response(400, "invalid_request", message)(scope, receive, send)
