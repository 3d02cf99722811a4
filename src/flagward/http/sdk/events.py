"""Analytics events from SDKs: server-side (SDK key), mobile (mobile key) and client-side (client-side ID
in the path). Every payload is acknowledged with 202; the summary events in it are tallied for flag
statuses, everything else is dropped. A 4xx other than 400 would turn an SDK's events off for good, so
only unknown credentials (401/404), unreadable payloads (400) and oversized ones (413, ``http.bodies``)
are refused. Malformed events inside a readable payload are dropped one by one and counted
(``EvaluationRecorder.dropped``, shown by ``/healthz``); the valid events beside them are kept."""

from __future__ import annotations

import json
from typing import Any

from anyio import to_thread
from fastapi import APIRouter, Request, Response

from flagward.domain.errors import InvalidRequest, NotFound
from flagward.domain.json_values import MAX_DEPTH
from flagward.http.sdk._common import hub_of, mobile_environment, server_environment
from flagward.services.flag_statuses import EvaluationRecorder
from flagward.streaming.hub import EnvironmentState, UnknownCredential

router = APIRouter(tags=["SDK"])


def recorder_of(request: Request) -> EvaluationRecorder:
    recorder: EvaluationRecorder = request.app.state.evaluations
    return recorder


def _parse(body: bytes) -> list[Any]:
    """The events of a payload. Only its syntax can refuse the whole payload (400); the events in it are
    checked one by one when they are recorded (a malformed one is dropped and counted)."""
    try:
        events = json.loads(body) if body.strip() else []
    except RecursionError:
        raise InvalidRequest(f"The event payload is nested deeper than {MAX_DEPTH} levels") from None
    except ValueError:
        raise InvalidRequest("The event payload is not valid JSON") from None
    if not isinstance(events, list):
        raise InvalidRequest("The event payload must be a JSON array of events")
    return events


async def _record(request: Request, state: EnvironmentState) -> Response:
    # The body is at most the events limit, already inflated (``http.bodies``); parsing and checking
    # it can still take tens of milliseconds, so it happens on a worker thread, off the event loop.
    body = await request.body()
    recorder = recorder_of(request)
    await to_thread.run_sync(lambda: recorder.record(state.keys.id, _parse(body)))
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
