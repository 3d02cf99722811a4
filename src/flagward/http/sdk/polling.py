"""Server-side polling: ``/sdk/latest-all`` (with ETag and gzip), and the per-kind and per-item
endpoints older SDKs use. Bodies are the hub's cached bytes."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from flagward.domain.errors import NotFound
from flagward.domain.events import ItemKind
from flagward.http.sdk._common import server_environment

router = APIRouter(include_in_schema=False)

JSON = "application/json"


def _etag_matches(request: Request, etag: bytes) -> bool:
    header = request.headers.get("if-none-match")
    if not header:
        return False
    tag = etag.decode()
    return any(candidate.strip().removeprefix("W/") in (tag, "*") for candidate in header.split(","))


@router.get("/sdk/latest-all")
async def latest_all(request: Request) -> Response:
    state, _ = await server_environment(request)
    etag = state.cache.etag()
    headers = {"ETag": etag.decode(), "Cache-Control": "no-cache", "Vary": "Accept-Encoding"}
    if _etag_matches(request, etag):
        return Response(status_code=304, headers=headers)
    if "gzip" in request.headers.get("accept-encoding", ""):
        headers["Content-Encoding"] = "gzip"
        return Response(state.cache.latest_all_gzip(), media_type=JSON, headers=headers)
    return Response(state.cache.latest_all(), media_type=JSON, headers=headers)


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
