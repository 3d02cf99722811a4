"""The SDK hot paths served inside the HTTP protocol, ahead of ASGI: polling bodies and server-side streams.

``flagward serve`` runs uvicorn with :func:`protocol_class`, uvicorn's httptools protocol with one
difference: once a request's head is parsed, a ``GET`` of one of the paths below whose ``Authorization``
holds the SDK key of an environment the hub has loaded is answered right there, with response bytes
(status line, headers and body) prebuilt once per payload version, encoding and second (the ``date``
header), in a single ``transport.write``. No ASGI scope, task, framework or log line is made for it.

Everything else goes to the ASGI application exactly as before, including these paths whenever the
answer is not a plain success: an unknown key (401), a hub not ready (503), an environment not loaded
yet, a missing item (404), ``HEAD``, a query string, HTTP/1.0, ``Connection: close``, ``Expect``, or a
request pipelined behind one the application is still answering (responses keep their order).

Streams (``GET /all``, ``GET /flags``): the head and the current ``put`` are written, and the transport
is handed to the hub as a :class:`~flagward.streaming.streams.TransportStream`; every change is then one
``write`` of shared, already chunk-framed bytes per stream. The connection carries nothing else after.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from flagward import metrics
from flagward.domain.events import ItemKind
from flagward.streaming.hub import EnvironmentState, Hub
from flagward.streaming.streams import TransportStream

# Per stream: bytes left unsent in its transport beyond which the reader is dropped (on top of its put).
STREAM_WRITE_LIMIT = 1 << 20

_LATEST_ALL, _FLAGS, _SEGMENTS, _FLAG, _SEGMENT, _ALL_STREAM, _FLAGS_STREAM = range(7)
_EXACT = {
    b"/sdk/latest-all": _LATEST_ALL,
    b"/sdk/latest-flags": _FLAGS,
    b"/sdk/flags": _FLAGS,
    b"/sdk/latest-segments": _SEGMENTS,
    b"/all": _ALL_STREAM,
    b"/flags": _FLAGS_STREAM,
}
_ITEM_PREFIXES = (
    (b"/sdk/latest-flags/", _FLAG),
    (b"/sdk/flags/", _FLAG),
    (b"/sdk/latest-segments/", _SEGMENT),
    (b"/sdk/segments/", _SEGMENT),
)
_NOT_AN_ITEM_KEY = (b"/", b"%", b"?", b"#")

_JSON = b"content-type: application/json\r\n"
_LATEST_ALL_HEADERS = b"cache-control: no-cache\r\nvary: Accept-Encoding\r\n"
_STREAM_HEAD = (
    b"content-type: text/event-stream; charset=utf-8\r\n"
    b"cache-control: no-cache, no-store\r\n"
    b"x-accel-buffering: no\r\n"
    b"transfer-encoding: chunked\r\n\r\n"
)


class _Tally:
    """Fast answers counted as a plain integer, written on the event loop only, and added to their
    Prometheus counter before each rendering of the metrics (``metrics.before_render``): a counter's
    ``inc`` takes a lock, which on the 304 path cost 6% of a request."""

    def __init__(self, counter: Any) -> None:
        self.counter = counter
        self.total = 0  # only ever increased, by the event loop's thread
        self._flushed = 0
        self._lock = threading.Lock()  # renderings may run in several threads (--metrics-port)
        metrics.before_render(self.flush)

    def flush(self) -> None:
        with self._lock:
            total = self.total
            if total > self._flushed:
                self.counter.inc(total - self._flushed)
                self._flushed = total


_SERVED_200 = _Tally(metrics.sdk_latest_all.labels("200"))
_SERVED_304 = _Tally(metrics.sdk_latest_all.labels("304"))
_POLLING = _Tally(metrics.sdk_requests.labels("polling"))
_STREAMS = metrics.sdk_streams.labels("server")


def _etag_matches(header: bytes, etag: bytes) -> bool:
    return any(candidate.strip().removeprefix(b"W/") in (etag, b"*") for candidate in header.split(b","))


def _head(status: bytes, default_headers: list[tuple[bytes, bytes]]) -> bytes:
    return status + b"".join(name + b": " + value + b"\r\n" for name, value in default_headers)


def protocol_class(hub: Hub) -> type[HttpToolsProtocol]:
    """uvicorn's httptools protocol, answering the SDK hot paths of ``hub`` itself."""
    return type("SdkFastProtocol", (SdkFastProtocol,), {"hub": hub})


class SdkFastProtocol(HttpToolsProtocol):
    hub: Hub

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._fast: Callable[[], None] | None = None
        self._stream: TransportStream | None = None
        self._idle_since: float | None = None  # when the last response ended; None: a request is under way

    # ---- parser callbacks

    def on_message_begin(self) -> None:
        # The scope is built only for requests the application serves (``_to_application``).
        self.url = b""
        self.expect_100_continue = False
        self.headers = []
        self._fast = None

    def on_headers_complete(self) -> None:
        kind = _EXACT.get(self.url)
        key = b""
        if kind is None:
            for prefix, item_kind in _ITEM_PREFIXES:
                if self.url.startswith(prefix):
                    key = self.url[len(prefix) :]
                    if key and not any(c in key for c in _NOT_AN_ITEM_KEY):
                        kind = item_kind
                    break
        if kind is not None and self._stream is None:
            self._fast = self._answer(kind, key)
        if self._fast is None:
            self._to_application()

    def on_body(self, body: bytes) -> None:
        if self._fast is None:
            super().on_body(body)  # a request body for a fast path is read and ignored

    def on_message_complete(self) -> None:
        fast = self._fast
        if fast is None:
            super().on_message_complete()
            return
        self._fast = None
        fast()

    def _to_application(self) -> None:
        url, headers, expect = self.url, self.headers, self.expect_100_continue
        super().on_message_begin()
        self.url, self.headers, self.expect_100_continue = url, headers, expect
        self.scope["headers"] = headers
        super().on_headers_complete()

    # ---- the hot paths

    def _answer(self, kind: int, key: bytes) -> Callable[[], None] | None:
        """What to do once the request is complete, or None for the application to answer it."""
        parser = self.parser
        if (
            parser.get_method() != b"GET"
            or parser.get_http_version() != "1.1"
            or not parser.should_keep_alive()
            or parser.should_upgrade()
            or self.expect_100_continue
            or self.flow.write_paused  # a client that does not read: the application waits for it
            or (self.cycle is not None and not self.cycle.response_complete)  # keep responses in order
        ):
            return None
        credential = accept = match = b""
        for name, value in self.headers:
            if name == b"authorization":
                credential = value
            elif name == b"accept-encoding":
                accept = value
            elif name == b"if-none-match":
                match = value
        text = credential.decode("latin-1").strip()
        if text[:8].lower() == "api_key ":
            text = text[8:].strip()
        state = self.hub.loaded_for_sdk_key(text) if text else None
        if state is None:
            return None
        if kind == _LATEST_ALL:
            return self._latest_all(state, accept, match)
        if kind in (_ALL_STREAM, _FLAGS_STREAM):
            return lambda: self._open_stream(state, text, flags_only=kind == _FLAGS_STREAM)
        if kind in (_FLAGS, _SEGMENTS):
            body = state.cache.map_bytes(ItemKind.FLAG if kind == _FLAGS else ItemKind.SEGMENT)
            return self._respond(state, kind, body, _JSON, body)
        item = state.cache.get(ItemKind.FLAG if kind == _FLAG else ItemKind.SEGMENT, key.decode("latin-1"))
        if item is None:
            return None  # the application's 404
        return self._respond(state, None, item.json, _JSON, item.json)

    def _latest_all(self, state: EnvironmentState, accept: bytes, match: bytes) -> Callable[[], None]:
        cache = state.cache
        etag = cache.etag()
        headers = b"etag: " + etag + b"\r\n" + _LATEST_ALL_HEADERS
        if match and _etag_matches(match, etag):
            return self._respond(state, 304, etag, headers, None, counter=_SERVED_304)
        if b"gzip" in accept:
            body = cache.latest_all_gzip()
            return self._respond(state, "gz", body, headers + b"content-encoding: gzip\r\n" + _JSON, body, _SERVED_200)
        body = cache.latest_all()
        return self._respond(state, 200, body, headers + _JSON, body, _SERVED_200)

    def _respond(
        self,
        state: EnvironmentState,
        variant: object,
        source: object,
        headers: bytes,
        body: bytes | None,
        counter: _Tally = _POLLING,
    ) -> Callable[[], None]:
        """Write the response for ``variant`` of ``state``, rebuilt only when its ``source`` (the payload
        bytes, or the ETag) or the server's default headers (``date``) changed; None as ``variant``: not
        kept (per-item bodies)."""
        defaults = self.server_state.default_headers
        held = state.responses.get(variant) if variant is not None else None
        if held is not None and held[0] is source and held[1] is defaults:
            response = held[2]
        else:
            if body is None:
                response = _head(b"HTTP/1.1 304 Not Modified\r\n", defaults) + headers + b"\r\n"
            else:
                length = b"content-length: %d\r\n\r\n" % len(body)
                response = _head(b"HTTP/1.1 200 OK\r\n", defaults) + headers + length + body
            if variant is not None:
                state.responses[variant] = (source, defaults, response)

        def write() -> None:
            self.transport.write(response)
            counter.total += 1
            self.on_response_complete()  # the keep-alive timer, as after any response

        return write

    def _open_stream(self, state: EnvironmentState, credential: str, *, flags_only: bool) -> None:
        self._unset_keepalive_if_required()
        stream = TransportStream(
            self.transport,
            state.keys.id,
            credential,
            flags_only=flags_only,
            limit=STREAM_WRITE_LIMIT + len(state.cache.put_event(flags_only=flags_only)),
        )
        self.transport.write(_head(b"HTTP/1.1 200 OK\r\n", self.server_state.default_headers) + _STREAM_HEAD)
        self._stream = stream
        _STREAMS.inc()
        self.hub.attach(state, stream)

    # ---- keep-alive: one timer per idle spell, not one per response
    #
    # uvicorn cancels the keep-alive timer when data arrives and arms a new one after each response: a
    # timer handle made and cancelled per request (8% of a 304). Here the timer stays armed; the response
    # records when the connection fell idle, and a timer that fires early is moved to the idle spell's end.

    def _unset_keepalive_if_required(self) -> None:
        self._idle_since = None  # busy: a timer firing now lets go, and the response ending this arms one

    def on_response_complete(self) -> None:
        self.server_state.total_requests += 1
        if self.transport.is_closing():
            return
        self.flow.resume_reading()
        if self.pipeline:
            self._idle_since = None
            cycle, app = self.pipeline.pop()
            self._start_asgi_task(cycle, app)
            return
        self._idle_since = self.loop.time()
        if self.timeout_keep_alive_task is None:
            self.timeout_keep_alive_task = self.loop.call_later(
                self.timeout_keep_alive, self.timeout_keep_alive_handler
            )

    def timeout_keep_alive_handler(self) -> None:
        self.timeout_keep_alive_task = None
        if self._idle_since is None:
            return
        remaining = self._idle_since + self.timeout_keep_alive - self.loop.time()
        if remaining > 0:
            self.timeout_keep_alive_task = self.loop.call_later(remaining, self.timeout_keep_alive_handler)
            return
        super().timeout_keep_alive_handler()

    # ---- the connection

    def data_received(self, data: bytes) -> None:
        if self._stream is None:
            super().data_received(data)  # a stream's connection carries nothing more: ignored

    def connection_lost(self, exc: Exception | None) -> None:
        if self.timeout_keep_alive_task is not None:
            self.timeout_keep_alive_task.cancel()
            self.timeout_keep_alive_task = None
        stream = self._stream
        if stream is not None:
            _STREAMS.dec()
            self.hub.unsubscribe(stream)
        super().connection_lost(exc)

    def shutdown(self) -> None:
        if self._stream is not None:
            self._stream.close()
            return
        super().shutdown()
