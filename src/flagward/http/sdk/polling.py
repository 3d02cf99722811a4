"""Server-side polling: ``/sdk/latest-all`` (with ETag and gzip), and the per-kind and per-item
endpoints older SDKs use. Bodies are the hub's cached bytes, never serialized per request."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from flagward import metrics
from flagward.domain.errors import NotFound
from flagward.domain.events import ItemKind
from flagward.http.sdk._common import scope_environment, server_environment

router = APIRouter(tags=["SDK"])

JSON = "application/json"
_SERVED_200 = metrics.sdk_latest_all.labels("200")
_SERVED_304 = metrics.sdk_latest_all.labels("304")


def _etag_matches(header: bytes | None, etag: bytes) -> bool:
    if not header:
        return False
    return any(candidate.strip().removeprefix(b"W/") in (etag, b"*") for candidate in header.split(b","))


class LatestAll:
    """``GET /sdk/latest-all``, the polling hot path, as plain ASGI ahead of the framework's routing:
    the cached body (or its cached gzip form), or 304 when ``If-None-Match`` names the current ETag."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != "/sdk/latest-all" or scope["method"] != "GET":
            await self.app(scope, receive, send)
            return
        found = await scope_environment(scope, receive, send)
        if found is None:
            return
        cache = found[0].cache
        request_headers = dict(scope["headers"])
        etag = cache.etag()
        headers = [(b"etag", etag), (b"cache-control", b"no-cache"), (b"vary", b"Accept-Encoding")]
        if _etag_matches(request_headers.get(b"if-none-match"), etag):
            _SERVED_304.inc()
            await send({"type": "http.response.start", "status": 304, "headers": headers})
            await send({"type": "http.response.body", "body": b""})
            return
        if b"gzip" in request_headers.get(b"accept-encoding", b""):
            body = cache.latest_all_gzip()
            headers.append((b"content-encoding", b"gzip"))
        else:
            body = cache.latest_all()
        headers += [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
        _SERVED_200.inc()
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})


async def _map(request: Request, kind: ItemKind) -> Response:
    state, _ = await server_environment(request)
    return Response(state.cache.map_bytes(kind), media_type=JSON)


async def _item(request: Request, kind: ItemKind, key: str) -> Response:
    state, _ = await server_environment(request)
    item = state.cache.get(kind, key)
    if item is None:
        raise NotFound(f"Unknown {'flag' if kind is ItemKind.FLAG else 'segment'} '{key}'")
    return Response(item.json, media_type=JSON)  # a deleted item is its tombstone, as in the maps


@router.get("/sdk/latest-flags")
@router.get("/sdk/flags")
async def latest_flags(request: Request) -> Response:
    return await _map(request, ItemKind.FLAG)


@router.get("/sdk/latest-flags/{key}")
@router.get("/sdk/flags/{key}")
async def latest_flag(request: Request, key: str) -> Response:
    return await _item(request, ItemKind.FLAG, key)


@router.get("/sdk/latest-segments")
async def latest_segments(request: Request) -> Response:
    return await _map(request, ItemKind.SEGMENT)


@router.get("/sdk/latest-segments/{key}")
@router.get("/sdk/segments/{key}")
async def latest_segment(request: Request, key: str) -> Response:
    return await _item(request, ItemKind.SEGMENT, key)
