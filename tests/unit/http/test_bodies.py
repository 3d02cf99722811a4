"""The request-body middleware on its own, in process: limits counted on the inflated size while
inflating, the Content-Type the REST API accepts, strict JSON."""

from __future__ import annotations

import gzip
import zlib
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from flagward.http.bodies import RequestBodies


async def _echo(request: Request) -> JSONResponse:
    body = await request.body()
    return JSONResponse({"size": len(body), "encoding": request.headers.get("content-encoding")})


def _client(api_limit: int = 1000, events_limit: int = 5000) -> httpx.AsyncClient:
    routes = [Route(path, _echo, methods=["POST"]) for path in ("/api/v2/x", "/bulk", "/api/v2/teams/t/members")]
    app = RequestBodies(Starlette(routes=routes), api_limit=api_limit, events_limit=events_limit)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")


async def _post(path: str, content: bytes, **headers: str) -> httpx.Response:
    async with _client() as client:
        return await client.post(path, content=content, headers=headers)


def _bomb(size: int) -> bytes:
    deflate = zlib.compressobj(9, zlib.DEFLATED, 31)
    return deflate.compress(b"[" + b" " * size + b"]") + deflate.flush()


@pytest.mark.anyio
async def test_the_limits_count_the_inflated_size() -> None:
    assert (await _post("/api/v2/x", b"[" + b" " * 997 + b"]")).json()["size"] == 999
    assert (await _post("/api/v2/x", b"[" + b" " * 1000 + b"]")).status_code == 413
    assert (await _post("/api/v2/x", _bomb(10_000), **{"Content-Encoding": "gzip"})).status_code == 413
    inflated = await _post("/bulk", _bomb(4000), **{"Content-Encoding": "gzip"})
    assert inflated.json() == {"size": 4002, "encoding": None}  # the app sees the inflated body
    assert (await _post("/bulk", _bomb(6000), **{"Content-Encoding": "gzip"})).status_code == 413


@pytest.mark.anyio
async def test_multi_member_gzip_and_deflate_are_read_and_bad_data_is_400() -> None:
    two = gzip.compress(b"[1,") + gzip.compress(b"2]")
    assert (await _post("/api/v2/x", two, **{"Content-Encoding": "gzip"})).json()["size"] == 5
    assert (await _post("/api/v2/x", zlib.compress(b"[]"), **{"Content-Encoding": "deflate"})).json()["size"] == 2
    assert (await _post("/api/v2/x", b"not gzip", **{"Content-Encoding": "gzip"})).status_code == 400
    assert (await _post("/api/v2/x", gzip.compress(b"[]")[:-4], **{"Content-Encoding": "gzip"})).status_code == 400
    assert (await _post("/api/v2/x", b"[]", **{"Content-Encoding": "br"})).status_code == 415


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("content_type", "status"),
    [
        ("application/json", 200),
        ("application/json; charset=utf-8", 200),
        ("application/json; domain-model=launchdarkly.semanticpatch", 200),
        ("application/merge-patch+json", 200),
        ("", 200),
        ("application/x-www-form-urlencoded", 415),
        ("text/plain", 415),
        ("multipart/form-data; boundary=x", 415),
    ],
)
async def test_the_api_takes_json(content_type: str, status: int) -> None:
    headers: dict[str, Any] = {"Content-Type": content_type} if content_type else {}
    response = await _post("/api/v2/x", b'{"a": 1}', **headers)
    assert response.status_code == status
    if status == 415:
        assert response.json()["code"] == "unsupported_media_type"
        assert "application/json" in response.json()["message"]


@pytest.mark.anyio
async def test_uploads_take_multipart_and_events_are_left_to_their_route() -> None:
    form = "multipart/form-data; boundary=x"
    assert (await _post("/api/v2/teams/t/members", b"--x--", **{"Content-Type": form})).status_code == 200
    assert (await _post("/bulk", b"[NaN]", **{"Content-Type": "text/plain"})).status_code == 200
    refused = await _post("/api/v2/x", b'{"a": NaN}')
    assert refused.status_code == 400 and refused.json()["message"].startswith("a: ")
