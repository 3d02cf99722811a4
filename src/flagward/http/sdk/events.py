"""Analytics events from SDKs: server-side (SDK key), mobile (mobile key) and client-side (client-side ID
in the path). Every payload is acknowledged with 202; the summary events in it are tallied for flag
statuses, everything else is dropped. A 4xx other than 400 would turn an SDK's events off for good, so
only unknown credentials (401/404) and unreadable payloads (400) are refused."""

from __future__ import annotations

import gzip
import json
import zlib
from typing import Any

from fastapi import APIRouter, Request, Response

from flagward.domain.errors import InvalidRequest, NotFound
from flagward.http.sdk._common import hub_of, mobile_environment, server_environment
from flagward.services.flag_statuses import EvaluationRecorder
from flagward.streaming.hub import EnvironmentState, UnknownCredential

router = APIRouter(tags=["SDK"])


def recorder_of(request: Request) -> EvaluationRecorder:
    recorder: EvaluationRecorder = request.app.state.evaluations
    return recorder


async def _payload(request: Request) -> Any:
    body = await request.body()
    try:
        if request.headers.get("content-encoding", "").lower() == "gzip":
            body = gzip.decompress(body)
        return json.loads(body) if body.strip() else []
    except (ValueError, OSError, EOFError, zlib.error):
        raise InvalidRequest("The event payload is not valid JSON") from None


async def _record(request: Request, state: EnvironmentState) -> Response:
    recorder_of(request).record(state.keys.id, await _payload(request))
    return Response(status_code=202)


async def _client_side(request: Request, env_id: str) -> EnvironmentState:
    try:
        return await hub_of(request).by_id(env_id)
    except UnknownCredential:
        raise NotFound(f"Unknown client-side ID '{env_id}'") from None


@router.post("/bulk")
async def server_events(request: Request) -> Response:
    state, _ = await server_environment(request)
    return await _record(request, state)


@router.post("/diagnostic")
async def server_diagnostic(request: Request) -> Response:
    await server_environment(request)
    return Response(status_code=202)


@router.post("/mobile")
@router.post("/mobile/events")
@router.post("/mobile/events/bulk")
async def mobile_events(request: Request) -> Response:
    return await _record(request, await mobile_environment(request))


@router.post("/mobile/events/diagnostic")
async def mobile_diagnostic(request: Request) -> Response:
    await mobile_environment(request)
    return Response(status_code=202)


@router.post("/events/bulk/{envId}")
async def client_events(request: Request, envId: str) -> Response:
    return await _record(request, await _client_side(request, envId))


@router.post("/events/diagnostic/{envId}")
async def client_diagnostic(request: Request, envId: str) -> Response:
    await _client_side(request, envId)
    return Response(status_code=202)
