"""Request bodies, read once ahead of routing: size limits enforced while reading and while inflating,
the Content-Type the REST API accepts, strict JSON, and no NUL characters.

Every request body of every route is read here, so nothing behind this middleware can receive more
than the limit: ``api_limit`` (1 MiB by default) for the REST API and the SDK endpoints, ``events_limit``
(5 MiB) for SDK analytics events. A ``Content-Encoding: gzip`` (or ``deflate``) body is inflated chunk by
chunk as it arrives, each step bounded by what is left of the limit, so a gzip bomb costs at most the
limit's worth of inflating before it gets 413. Downstream sees the inflated body, without the encoding.

Bodies of the REST API (``/api/``, ``/auth/``) must be JSON (``application/json``, with or without
LaunchDarkly's ``domain-model=launchdarkly.semanticpatch``) or, where a route takes a file upload,
``multipart/form-data``; anything else gets 415 naming the expected type. JSON bodies (events aside: they
are checked one event at a time by their route) go through ``domain.json_values``: non-finite numbers,
integers outside the stores' range, NUL characters and deep nesting get 400 naming the path. Large bodies
are parsed on a worker thread so that the event loop keeps serving other requests.
"""

from __future__ import annotations

import re
import zlib
from email.message import Message as MimeMessage
from functools import partial

from anyio import to_thread
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from flagward.domain import json_values
from flagward.http.errors import error_response

API_BODY_LIMIT = 1024 * 1024
EVENTS_BODY_LIMIT = 5 * 1024 * 1024
_OFF_LOOP = 64 * 1024  # bodies larger than this are parsed on a worker thread

_GUARDED = ("/api/", "/auth/")
_EVENT_PATHS = frozenset({"/bulk", "/diagnostic"})
_EVENT_PREFIXES = ("/mobile", "/events/")
_WITH_BODY = frozenset({"POST", "PUT", "PATCH", "DELETE", "REPORT"})
_ENCODINGS = frozenset({"gzip", "x-gzip", "deflate"})
# Routes taking a file upload (``multipart/form-data``): adding team members from a CSV file.
_UPLOADS = re.compile(r"^/api/v2/teams/[^/]+/members/?$")
# A JSON "\u0000" escape: an odd run of backslashes before u0000 (an even run is an escaped backslash).
_JSON_NUL = re.compile(rb"(?<!\\)(?:\\\\)*\\u0000")
JSON_TYPES = "application/json, or application/json; domain-model=launchdarkly.semanticpatch for a semantic patch"


class Refused(Exception):
    """A body this middleware answers itself: ``status`` with LaunchDarkly's error shape."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def is_events_path(path: str) -> bool:
    return path in _EVENT_PATHS or path.startswith(_EVENT_PREFIXES)


class RequestBodies:
    """The ASGI middleware (see the module docstring)."""

    def __init__(self, app: ASGIApp, *, api_limit: int = API_BODY_LIMIT, events_limit: int = EVENTS_BODY_LIMIT) -> None:
        self.app = app
        self.api_limit = api_limit
        self.events_limit = events_limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        try:
            _check_url(scope)
            if scope["method"] not in _WITH_BODY:
                await self.app(scope, receive, send)
                return
            events = is_events_path(scope["path"])
            body = await read_body(scope, receive, self.events_limit if events else self.api_limit)
            if body is None:
                return  # the client went away
            if not events:
                await _check_content(scope, body)
        except Refused as refused:
            code = {413: "request_entity_too_large", 415: "unsupported_media_type"}.get(refused.status)
            await error_response(refused.status, code or "invalid_request", refused.message)(scope, receive, send)
            return
        await self.app(_inflated_scope(scope, body), _replay(body, receive), send)


def _check_url(scope: Scope) -> None:
    if scope["path"].startswith(_GUARDED) and ("\x00" in scope["path"] or b"%00" in scope["query_string"]):
        raise Refused(400, "the URL must not contain NUL (U+0000) characters")


async def read_body(scope: Scope, receive: Receive, limit: int) -> bytes | None:
    """The whole body, inflated; None if the client disconnected. Raises Refused (413, 415, 400)."""
    headers = Headers(scope=scope)
    declared = headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise Refused(413, _too_large(limit))
    encoding = headers.get("content-encoding", "").strip().lower()
    if encoding not in _ENCODINGS and encoding not in ("", "identity"):
        raise Refused(415, f"Content-Encoding '{encoding}' is not supported; send gzip, deflate or no encoding")
    sink = _Inflater(limit) if encoding in _ENCODINGS else _Collector(limit)
    more = True
    while more:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        sink.feed(message.get("body", b""))
        more = message.get("more_body", False)
    return sink.finish()


def _too_large(limit: int) -> str:
    return f"The request body is larger than the limit of {limit} bytes"


class _Collector:
    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._size = 0
        self._parts: list[bytes] = []

    def feed(self, data: bytes) -> None:
        self._size += len(data)
        if self._size > self._limit:
            raise Refused(413, _too_large(self._limit))
        self._parts.append(data)

    def finish(self) -> bytes:
        return b"".join(self._parts)


class _Inflater(_Collector):
    """Inflates gzip or zlib data as it arrives; never produces more than the limit plus one byte."""

    _WBITS = 32 + zlib.MAX_WBITS  # gzip or zlib header, detected

    def __init__(self, limit: int) -> None:
        super().__init__(limit)
        self._inflate = zlib.decompressobj(self._WBITS)
        self._seen = False

    def feed(self, data: bytes) -> None:
        self._seen = self._seen or bool(data)
        try:
            while data:
                super().feed(self._inflate.decompress(data, self._limit - self._size + 1))
                if self._inflate.eof and self._inflate.unused_data:  # a gzip file of several members
                    data, self._inflate = self._inflate.unused_data, zlib.decompressobj(self._WBITS)
                else:
                    data = self._inflate.unconsumed_tail
        except zlib.error:
            raise Refused(400, "The request body is not valid gzip or deflate data") from None

    def finish(self) -> bytes:
        if self._seen:
            try:
                super().feed(self._inflate.flush())
            except zlib.error:
                raise Refused(400, "The request body is not valid gzip or deflate data") from None
            if not self._inflate.eof:
                raise Refused(400, "The request body is truncated gzip or deflate data")
        return super().finish()


async def _check_content(scope: Scope, body: bytes) -> None:
    """Content-Type, NUL characters and strict JSON, for bodies other than SDK events."""
    if not body.strip():
        return
    guarded = scope["path"].startswith(_GUARDED)
    media = _media_type(Headers(scope=scope).get("content-type", ""))
    if guarded and media == "multipart/form-data" and _UPLOADS.match(scope["path"]):
        return
    if media and media != "application/json" and not media.endswith("+json"):
        if guarded:
            expected = "multipart/form-data" if _UPLOADS.match(scope["path"]) else JSON_TYPES
            raise Refused(415, f"Unsupported Content-Type '{media}': the request body must be sent as {expected}")
        return  # an SDK endpoint: its route decides
    if guarded and (b"\x00" in body or _JSON_NUL.search(body)):
        raise Refused(400, "the request body must not contain NUL (U+0000) characters")
    parse = partial(json_values.loads, allow_nul=not guarded)  # SDK data passes through untouched
    try:
        if len(body) > _OFF_LOOP:
            await to_thread.run_sync(parse, body)
        else:
            parse(body)
    except json_values.JsonRefused as refused:
        raise Refused(400, refused.message) from None


def _media_type(content_type: str) -> str:
    if not content_type.strip():
        return ""
    message = MimeMessage()
    message["content-type"] = content_type
    return message.get_content_type().lower()


def _inflated_scope(scope: Scope, body: bytes) -> Scope:
    """``scope`` describing the body as the app receives it: inflated, with its real length."""
    headers = [(k, v) for k, v in scope["headers"] if k not in (b"content-encoding", b"content-length")]
    headers.append((b"content-length", str(len(body)).encode()))
    return dict(scope, headers=headers)


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replayed() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replayed
