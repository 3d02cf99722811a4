"""CORS for the endpoints browsers call (client-side ID in the path): any origin may read them, as with
LaunchDarkly; the credential is public by design and answers are limited to client-side flags."""

from __future__ import annotations

import re

from starlette.types import ASGIApp, Message, Receive, Scope, Send

_CLIENT_SIDE = re.compile(r"^/(sdk/evalx/[^/]+/(contexts?|users?)(/|$)|sdk/goals/|events/(bulk|diagnostic)/)")
_ALLOWED_HEADERS = (
    b"Cache-Control, Content-Type, Content-Length, Accept-Encoding, User-Agent, X-LaunchDarkly-User-Agent, "
    b"X-LaunchDarkly-Payload-ID, X-LaunchDarkly-Wrapper, X-LaunchDarkly-Event-Schema, X-LaunchDarkly-Tags"
)


def _headers(origin: bytes | None) -> list[tuple[bytes, bytes]]:
    headers = [
        (b"access-control-allow-origin", origin or b"*"),
        (b"access-control-allow-methods", b"GET, POST, REPORT, OPTIONS"),
        (b"access-control-allow-headers", _ALLOWED_HEADERS),
        (b"access-control-expose-headers", b"Date"),
        (b"access-control-max-age", b"300"),
    ]
    if origin:
        headers += [(b"access-control-allow-credentials", b"true"), (b"vary", b"Origin")]
    return headers


class ClientSideCors:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not _CLIENT_SIDE.match(scope["path"]):
            await self.app(scope, receive, send)
            return
        origin = dict(scope["headers"]).get(b"origin")
        extra = _headers(origin)
        if scope["method"] == "OPTIONS":
            await send({"type": "http.response.start", "status": 204, "headers": extra})
            await send({"type": "http.response.body", "body": b""})
            return

        async def send_with_cors(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        await self.app(scope, receive, send_with_cors)
