"""Client-side and mobile SDKs get evaluated flags, not rules: ``/sdk/evalx/{envId}/…`` (the client-side
ID in the path; flags available to client-side SDKs) and ``/msdk/evalx/…`` (the mobile key in
``Authorization``; flags available to mobile SDKs). The context comes base64url-encoded in the path
(``GET``) or as the body (``REPORT``). ``?withReasons=true`` adds every reason; a reason is always sent
when the result is tracked (``trackReason``), as LaunchDarkly does."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from typing import Any

from fastapi import APIRouter, Request, Response

from flagward.domain.errors import InvalidRequest, NotFound
from flagward.domain.evaluation import CompiledFlag, Context, ContextError, EvaluationDetail
from flagward.domain.events import ItemKind
from flagward.http.sdk._common import hub_of, mobile_environment
from flagward.streaming.cache import dumps
from flagward.streaming.hub import EnvironmentState, UnknownCredential

router = APIRouter(tags=["SDK"])
JSON = "application/json"


def decode_context(encoded: str) -> Any:
    """A context from the path: base64url (standard base64 accepted too), padding optional."""
    padded = encoded + "=" * (-len(encoded) % 4)
    for decode in (base64.urlsafe_b64decode, base64.b64decode):
        try:
            return json.loads(decode(padded))
        except (ValueError, binascii.Error):
            continue
    raise InvalidRequest("The context must be base64url-encoded JSON")


def parse_context(raw: Any) -> Context:
    try:
        return Context.from_dict(raw)
    except ContextError as exc:
        raise InvalidRequest(f"Invalid context: {exc}") from None


async def _body_context(request: Request) -> Context:
    try:
        raw = json.loads(await request.body())
    except ValueError:
        raise InvalidRequest("The body must be the context, as JSON") from None
    return parse_context(raw)


def _entry(flag: CompiledFlag, detail: EvaluationDetail, with_reasons: bool) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "value": detail.value,
        "version": flag.version,
        "flagVersion": flag.version,
        "trackEvents": detail.track_events,
    }
    if detail.variation_index is not None:
        entry["variation"] = detail.variation_index
    if detail.track_reason:
        entry["trackReason"] = True
    if with_reasons or detail.track_reason:
        entry["reason"] = detail.reason
    if flag.debug_events_until_date is not None:
        entry["debugEventsUntilDate"] = flag.debug_events_until_date
    if detail.prerequisite_keys:
        entry["prerequisites"] = list(detail.prerequisite_keys)
    return entry


def evaluate_all(state: EnvironmentState, context: Context, *, mobile: bool, with_reasons: bool) -> bytes:
    """``{flagKey: result}`` for every flag available to this kind of SDK."""
    cache = state.cache
    evaluator = cache.evaluator()
    result = {}
    for key in sorted(cache.items(ItemKind.FLAG)):
        flag = cache.compiled_flag(key)
        if flag is None or flag.deleted:
            continue
        if not (flag.client_side_using_mobile_key if mobile else flag.client_side_using_environment_id):
            continue
        result[key] = _entry(flag, evaluator.evaluate(flag, context), with_reasons)
    return dumps(result)


def _with_reasons(request: Request) -> bool:
    return request.query_params.get("withReasons", "").lower() == "true"


async def _client_side(request: Request, env_id: str) -> EnvironmentState:
    try:
        return await hub_of(request).by_id(env_id)
    except UnknownCredential:
        raise NotFound(f"Unknown client-side ID '{env_id}'") from None


def _check_secure_mode(request: Request, state: EnvironmentState, context: Context) -> None:
    """With secure mode on, ``?h=`` must be HMAC-SHA256(SDK key, the context's fully-qualified key)."""
    if not state.keys.secure_mode:
        return
    expected = hmac.new(state.keys.sdk_key.encode(), context.fully_qualified_key.encode(), hashlib.sha256)
    if not hmac.compare_digest(expected.hexdigest(), request.query_params.get("h", "")):
        raise InvalidRequest("Secure mode is on: the request needs the context's hash (?h=)")


async def _client_response(request: Request, env_id: str, context: Context) -> Response:
    state = await _client_side(request, env_id)
    _check_secure_mode(request, state, context)
    body = evaluate_all(state, context, mobile=False, with_reasons=_with_reasons(request))
    return Response(body, media_type=JSON)


async def _mobile_response(request: Request, context: Context) -> Response:
    state = await mobile_environment(request)
    body = evaluate_all(state, context, mobile=True, with_reasons=_with_reasons(request))
    return Response(body, media_type=JSON)


@router.get("/sdk/evalx/{envId}/contexts/{context}")
@router.get("/sdk/evalx/{envId}/users/{context}")
async def client_get(request: Request, envId: str, context: str) -> Response:
    return await _client_response(request, envId, parse_context(decode_context(context)))


@router.api_route("/sdk/evalx/{envId}/context", methods=["REPORT"])
@router.api_route("/sdk/evalx/{envId}/user", methods=["REPORT"])
async def client_report(request: Request, envId: str) -> Response:
    return await _client_response(request, envId, await _body_context(request))


@router.get("/msdk/evalx/contexts/{context}")
@router.get("/msdk/evalx/users/{context}")
async def mobile_get(request: Request, context: str) -> Response:
    return await _mobile_response(request, parse_context(decode_context(context)))


@router.api_route("/msdk/evalx/context", methods=["REPORT"])
@router.api_route("/msdk/evalx/user", methods=["REPORT"])
async def mobile_report(request: Request) -> Response:
    return await _mobile_response(request, await _body_context(request))


@router.get("/sdk/goals/{envId}")
async def goals(request: Request, envId: str) -> Response:
    """The JS SDK asks for click and page-view goals; flagward has none."""
    await _client_side(request, envId)
    return Response(b"[]", media_type=JSON)
