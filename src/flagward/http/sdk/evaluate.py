"""``POST /api/v2/projects/{projectKey}/environments/{environmentKey}/flags/evaluate``: every flag of an
environment evaluated for one context, in LaunchDarkly's ``ContextInstanceEvaluations`` shape, for
debugging targeting. It reads the store (a change is visible at once) and records no flag status.

Compiling the flags costs far more than evaluating them, so when the SDK hub holds the environment, each
flag and segment is taken compiled from the hub (compiled there once per version) if the hub holds it at
the version just read from the store; only the others (a change still on its way to the hub) are
compiled for the request. When the hub does not hold the environment, everything is compiled here, in a
worker thread. The hub is read on its event loop only: it changes there."""

from __future__ import annotations

import json
import re
from functools import partial
from typing import Annotated, Any

from anyio import to_thread
from fastapi import APIRouter, Body, Request

from flagward import metrics
from flagward.domain.errors import InvalidRequest
from flagward.domain.evaluation import CompiledFlag, CompiledSegment, Context, Evaluator, compile_flag, compile_segment
from flagward.domain.events import ItemKind
from flagward.domain.flags import Flag
from flagward.http.deps import ActorDep, DepsDep
from flagward.http.links import link
from flagward.http.sdk._common import hub_of
from flagward.http.sdk.evalx import parse_context
from flagward.services import sdk as service
from flagward.services.sdk import EnvironmentData
from flagward.streaming.cache import EnvironmentCache
from flagward.streaming.payloads import flag_item, segment_item

router = APIRouter(tags=["Contexts"])

PATH = "/api/v2/projects/{projectKey}/environments/{environmentKey}/flags/evaluate"
_FILTER = re.compile(r"\s*(query)\s+equals\s+(.+?)\s*$|\s*(tags)\s+contains\s+(\[.*\])\s*$")
_SORTS = {"key", "-key", "name", "-name"}


def _filters(raw: str | None) -> tuple[str | None, list[str]]:
    """``query equals <text>`` and ``tags contains ["a","b"]``, comma-separated."""
    query, tags = None, []
    for part in re.split(r",(?![^\[]*\])", raw or ""):
        if not part.strip():
            continue
        match = _FILTER.match(part)
        if match is None:
            raise InvalidRequest(f"unsupported filter '{part.strip()}'; use query equals … or tags contains […]")
        if match.group(1):
            query = match.group(2)
        else:
            try:
                tags = [str(t) for t in json.loads(match.group(4))]
            except ValueError:
                raise InvalidRequest("filter: tags contains needs a JSON list of strings") from None
    return query, tags


def _selected(flags: list[Flag], raw_filter: str | None, sort: str | None) -> list[Flag]:
    query, tags = _filters(raw_filter)
    if query:
        needle = query.lower()
        flags = [f for f in flags if needle in f.key.lower() or needle in f.name.lower()]
    flags = [f for f in flags if set(tags) <= set(f.tags)]
    order = sort or "key"
    if order not in _SORTS:
        raise InvalidRequest(f"sort must be one of {', '.join(sorted(_SORTS))}")
    return sorted(flags, key=lambda f: f.key if order.endswith("key") else f.name.lower(), reverse=order[0] == "-")


def _reason(reason: dict[str, Any]) -> dict[str, Any]:
    # This REST representation spells the rule ID ``ruleID`` (the SDKs say ``ruleId``).
    return {("ruleID" if name == "ruleId" else name): value for name, value in reason.items()}


_COMPILES = {kind: metrics.sdk_compiles.labels(kind.value) for kind in ItemKind}


def _compiled(
    data: EnvironmentData, held: EnvironmentCache | None
) -> tuple[dict[str, CompiledFlag], dict[str, CompiledSegment]]:
    """Every flag and segment read, compiled: from ``held`` (the hub's) where it holds the version read,
    compiled now otherwise."""
    env_key = data.environment.key
    flags, segments = {}, {}
    for flag in data.flags:
        # An SDK flag's version is its environment configuration's (``flag_item``), tombstone or not.
        compiled = held.compiled_flag_at(flag.key, flag.environments[env_key]["version"]) if held else None
        if compiled is None:
            compiled = compile_flag(flag_item(flag, env_key))
            _COMPILES[ItemKind.FLAG].inc()
        flags[flag.key] = compiled
    for segment in data.segments:
        compiled_segment = held.compiled_segment_at(segment.key, segment.version) if held else None
        if compiled_segment is None:
            compiled_segment = compile_segment(segment_item(segment))
            _COMPILES[ItemKind.SEGMENT].inc()
        segments[segment.key] = compiled_segment
    return flags, segments


def _evaluations(
    data: EnvironmentData,
    held: EnvironmentCache | None,
    context: Context,
    *,
    path: str,
    site: str,
    selected: list[Flag],
) -> list[dict[str, Any]]:
    """The ``selected`` flags, each evaluated for ``context``; ``site``: their console pages' path prefix."""
    compiled, segments = _compiled(data, held)
    evaluator = Evaluator(compiled.get, segments.get)
    items = []
    for flag in selected:
        detail = evaluator.evaluate(compiled[flag.key], context)
        items.append(
            {
                "_links": {"self": link(path), "site": link(f"{site}/{flag.key}/targeting", "text/html")},
                "_value": detail.value,
                "key": flag.key,
                "name": flag.name,
                "reason": _reason(detail.reason),
            }
        )
    return items


@router.post(PATH, summary="Evaluate flags for context instance")
async def evaluate_context_instance(
    request: Request,
    actor: ActorDep,
    deps: DepsDep,
    projectKey: str,
    environmentKey: str,
    context: Annotated[Any, Body()],
    limit: int = -1,
    offset: int = 0,
    sort: str | None = None,
    filter: str | None = None,
) -> dict[str, Any]:
    parsed = parse_context(context)
    read = partial(service.data_for_evaluation, deps, actor=actor, project_key=projectKey, env_key=environmentKey)
    data = await to_thread.run_sync(read)
    selected = _selected([f for f in data.flags if not f.archived], filter, sort)
    page = selected[max(offset, 0) :] if limit < 0 else selected[max(offset, 0) : max(offset, 0) + limit]
    path = PATH.format(projectKey=projectKey, environmentKey=environmentKey)
    site = f"/{projectKey}/{environmentKey}/features"
    state = hub_of(request).loaded_by_id(data.environment.id)
    if state is None:  # everything is compiled for this request: off the event loop
        evaluate = partial(_evaluations, data, None, parsed, path=path, site=site, selected=page)
        items = await to_thread.run_sync(evaluate)
    else:  # on the loop, where the hub's cache changes
        items = _evaluations(data, state.cache, parsed, path=path, site=site, selected=page)
    return {"_links": {"self": link(path)}, "items": items, "totalCount": len(selected)}
