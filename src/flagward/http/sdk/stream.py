"""Server-side SDK streams: ``GET /all`` (flags and segments) and ``GET /flags`` (flags only, for older
SDKs). Server-sent events, chunked, each event flushed as soon as it exists; a heartbeat comment comes
from the hub every ``stream_heartbeat_seconds`` on an otherwise idle stream.

A process holds thousands of these for hours, so they are served by a small ASGI middleware ahead of the
framework's routing: each open stream then costs one coroutine chain of a few frames (plus the task
that watches for the client leaving) instead of the whole routing and dependency stack.
"""

from __future__ import annotations

import asyncio
import contextlib

from starlette.types import ASGIApp, Receive, Scope, Send

from flagward.http.errors import error_response
from flagward.streaming.hub import Hub, NotReady, Stream, UnknownCredential

_PATHS = {"/all": False, "/flags": True}  # path -> flags only
_HEADERS = [
    (b"content-type", b"text/event-stream; charset=utf-8"),
    (b"cache-control", b"no-cache, no-store"),
    (b"x-accel-buffering", b"no"),  # tell nginx-like proxies not to buffer the stream
]


def _credential(scope: Scope) -> str:
    """The raw key in ``Authorization``; Relay's ``api_key <key>`` form is accepted too."""
    for name, value in scope["headers"]:
        if name == b"authorization":
            text = value.decode("latin-1").strip()
            return text[8:].strip() if text[:8].lower() == "api_key " else text
    return ""


class SdkStreams:
    """Serves ``GET /all`` and ``GET /flags``; everything else goes on to ``app``."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        flags_only = _PATHS.get(scope["path"]) if scope["type"] == "http" else None
        if flags_only is None or scope["method"] != "GET":
            await self.app(scope, receive, send)
            return
        hub: Hub = scope["app"].state.sdk_hub
        key = _credential(scope)
        try:
            if not key:
                raise UnknownCredential()
            state = await hub.by_credential(key)
        except NotReady:
            await error_response(503, "service_unavailable", "Not ready to serve SDKs yet; retry shortly")(
                scope, receive, send
            )
            return
        except UnknownCredential:
            await error_response(401, "unauthorized", "Invalid SDK key")(scope, receive, send)
            return
        await serve_stream(hub, hub.subscribe(state, key, flags_only=flags_only), receive, send)


async def serve_stream(hub: Hub, stream: Stream, receive: Receive, send: Send) -> None:
    """Send the stream's events until it is closed (by the hub, or by the client going away).

    No ``content-length``, so the server frames the body with chunked encoding, which the SDK's reader
    needs; each event is a separate ``send``, so each is flushed at once.
    """
    # The server does not fail a send to a departed client; only receive() tells us it left.
    watcher = asyncio.ensure_future(_wait_for_disconnect(receive, stream))
    try:
        await send({"type": "http.response.start", "status": 200, "headers": _HEADERS})
        while (data := await stream.next()) is not None:
            await send({"type": "http.response.body", "body": data, "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})
    except OSError:
        pass  # the client went away mid-write
    finally:
        watcher.cancel()
        hub.unsubscribe(stream)


async def _wait_for_disconnect(receive: Receive, stream: Stream) -> None:
    with contextlib.suppress(Exception):
        while (await receive())["type"] != "http.disconnect":
            pass
    stream.close()
