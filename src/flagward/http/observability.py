"""The outermost layer of the application: request ids, the access log, HTTP metrics and ``GET /metrics``.

SDK endpoints pass straight through (one prefix test): they are counted where they are served
(``flagward.metrics``), never access-logged, and carry no per-request work here, so that thousands of
polling SDKs cost what they cost without it.

Every other request gets an id (a valid incoming ``X-Request-Id``, else a new one), echoed in the
response's ``X-Request-Id``, in every log line it causes (``flagward.logs``) and in an error body's
``id``; when it ends, a counter and a latency histogram by route template, method and status class, and
one access log line (``flagward.access``) unless turned off.
"""

from __future__ import annotations

import hmac
import logging
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from flagward import logs, metrics

access = logging.getLogger("flagward.access")
log = logging.getLogger("flagward.http")

_SDK_EXACT = frozenset({"/all", "/flags", "/bulk", "/diagnostic", "/mobile"})
_SDK_PREFIXES = ("/sdk/", "/msdk/", "/mobile/", "/events/")
METRICS_PATH = "/metrics"
_STATUS_CLASSES = {1: "1xx", 2: "2xx", 3: "3xx", 4: "4xx", 5: "5xx"}


# SDK requests other than streams and /sdk/latest-all (counted where they are served), by endpoint group.
_SDK_GROUPS = (
    ("/sdk/evalx/", "evalx"),
    ("/msdk/", "evalx"),
    ("/sdk/goals/", "goals"),
    ("/sdk/", "polling"),
    ("/", "events"),  # /bulk, /diagnostic, /mobile…, /events/…
)
_SDK_COUNTERS = {group: metrics.sdk_requests.labels(group) for _, group in _SDK_GROUPS}
_COUNTED_ELSEWHERE = frozenset({"/all", "/flags", "/sdk/latest-all"})


def is_sdk_path(path: str) -> bool:
    return path in _SDK_EXACT or path.startswith(_SDK_PREFIXES)


def _count_sdk(path: str) -> None:
    if path in _COUNTED_ELSEWHERE:
        return
    for prefix, group in _SDK_GROUPS:
        if path.startswith(prefix):
            _SDK_COUNTERS[group].inc()
            return


class Observed:
    """Wraps the whole application (outside the framework's error middleware, which re-raises an
    unhandled error after its 500 was sent: it was logged once already, with the request id)."""

    def __init__(self, app: ASGIApp, *, access_log: bool, metrics_token: str | None, serve_metrics: bool) -> None:
        self.app = app
        self.access_log = access_log
        self.metrics_token = metrics_token
        self.serve_metrics = serve_metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if is_sdk_path(scope["path"]):
            _count_sdk(scope["path"])
            await self.app(scope, receive, send)
            return
        if scope["path"] == METRICS_PATH and self.serve_metrics:
            await serve_metrics(scope, send, self.metrics_token)
            return
        await self._observed(scope, receive, send)

    async def _observed(self, scope: Scope, receive: Receive, send: Send) -> None:
        incoming = None
        for name, value in scope["headers"]:
            if name == b"x-request-id":
                incoming = value.decode("latin-1")
                break
        entry, token = logs.begin(incoming, scope["method"], scope["path"])
        id_header = (b"x-request-id", entry.id.encode())
        status = 500
        responded = False

        async def send_with_id(message: Message) -> None:
            nonlocal status, responded
            if message["type"] == "http.response.start":
                status, responded = message["status"], True
                message = dict(message, headers=[*message.get("headers", ()), id_header])
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception:
            # The error handlers answered 500 (with this id) and logged the error once; re-raise only
            # if nothing was sent, for the server to answer and close the connection.
            if not responded:
                raise
        finally:
            self._finish(scope, entry, status)
            logs.end(token)

    def _finish(self, scope: Scope, entry: logs.RequestLog, status: int) -> None:
        route = entry.route or getattr(scope.get("route"), "path", None) or "unmatched"
        entry.route = route
        method = scope["method"]
        elapsed = time.perf_counter() - entry.started
        metrics.http_requests.labels(route, method, _STATUS_CLASSES.get(status // 100, "other")).inc()
        metrics.http_duration.labels(route, method).observe(elapsed)
        if self.access_log:
            access.info(
                "%s %s %d %.1fms",
                method,
                route,
                status,
                elapsed * 1000,
                extra={"method": method, "status": status, "duration_ms": round(elapsed * 1000, 2)},
            )


class NoteRoute:
    """Innermost, next to the router: tells the request's log entry which route template matched (the
    middlewares between here and ``Observed`` may hand on copies of the scope, which the router fills)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await self.app(scope, receive, send)
        finally:
            entry = logs.current()
            route = getattr(scope.get("route"), "path", None)
            if entry is not None and route is not None:
                entry.route = route


async def serve_metrics(scope: Scope, send: Send, token: str | None) -> None:
    """``GET /metrics``: the Prometheus text format; 401 without the bearer token when one is set."""
    if token is not None:
        given = b""
        for name, value in scope["headers"]:
            if name == b"authorization":
                given = value
                break
        if not hmac.compare_digest(given, b"Bearer " + token.encode()):
            body = b'{"code":"unauthorized","message":"/metrics needs the metrics bearer token"}'
            await send(
                {
                    "type": "http.response.start",
                    "status": 401,
                    "headers": [(b"content-type", b"application/json"), (b"www-authenticate", b"Bearer")],
                }
            )
            await send({"type": "http.response.body", "body": body})
            return
    if scope["method"] not in ("GET", "HEAD"):
        await send({"type": "http.response.start", "status": 405, "headers": [(b"allow", b"GET")]})
        await send({"type": "http.response.body", "body": b""})
        return
    body = metrics.render()
    headers = [(b"content-type", metrics.CONTENT_TYPE_LATEST.encode()), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body if scope["method"] == "GET" else b""})


class MetricsOnly:
    """The application served on ``--metrics-port``: ``/metrics`` and nothing else."""

    def __init__(self, token: str | None) -> None:
        self.token = token

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while (message := await receive())["type"] != "lifespan.shutdown":
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        if scope["type"] != "http":
            return
        if scope["path"] != METRICS_PATH:
            await send({"type": "http.response.start", "status": 404, "headers": []})
            await send({"type": "http.response.body", "body": b""})
            return
        await serve_metrics(scope, send, self.token)
