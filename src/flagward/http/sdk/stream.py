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

from flagward import metrics
from flagward.http.sdk._common import scope_environment
from flagward.streaming.hub import Hub, Stream

_PATHS = {"/all": False, "/flags": True}  # path -> flags only
_HEADERS = [
    (b"content-type", b"text/event-stream; charset=utf-8"),
    (b"cache-control", b"no-cache, no-store"),
    (b"x-accel-buffering", b"no"),  # tell nginx-like proxies not to buffer the stream
]
_CONNECTED = metrics.sdk_streams.labels("server")
metrics.sdk_streams.labels("client")  # client-side streams (/eval, /meval) are not served: always 0
_SENT = metrics.sdk_stream_events


class SdkStreams:
    """Serves ``GET /all`` and ``GET /flags``; everything else goes on to ``app``."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        flags_only = _PATHS.get(scope["path"]) if scope["type"] == "http" else None
        if flags_only is None or scope["method"] != "GET":
            await self.app(scope, receive, send)
            return
        found = await scope_environment(scope, receive, send)
        if found is None:
            return
        state, key = found
        hub: Hub = scope["app"].state.sdk_hub
        await serve_stream(hub, hub.subscribe(state, key, flags_only=flags_only), receive, send)


async def serve_stream(hub: Hub, stream: Stream, receive: Receive, send: Send) -> None:
    """Send the stream's events until it is closed (by the hub, or by the client going away).

    No ``content-length``, so the server frames the body with chunked encoding, which the SDK's reader
    needs; each event is a separate ``send``, so each is flushed at once.
    """
    # The server does not fail a send to a departed client; only receive() tells us it left.
    watcher = asyncio.ensure_future(_wait_for_disconnect(receive, stream))
    _CONNECTED.inc()
    try:
        await send({"type": "http.response.start", "status": 200, "headers": _HEADERS})
        while (data := await stream.next()) is not None:
            await send({"type": "http.response.body", "body": data, "more_body": True})
            _SENT.inc()
        await send({"type": "http.response.body", "body": b"", "more_body": False})
    except OSError:
        pass  # the client went away mid-write
    finally:
        _CONNECTED.dec()
        watcher.cancel()
        hub.unsubscribe(stream)


async def _wait_for_disconnect(receive: Receive, stream: Stream) -> None:
    with contextlib.suppress(Exception):
        while (await receive())["type"] != "http.disconnect":
            pass
    stream.close()
