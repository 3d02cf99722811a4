"""``POST /api/v2/projects/{projectKey}/environments/{environmentKey}/flags/evaluate``: every flag of an
environment evaluated for one context, in LaunchDarkly's ``ContextInstanceEvaluations`` shape, for
debugging targeting. It reads the store (a change is visible at once) and records no flag status.

Compiling the flags costs far more than evaluating them, so when the SDK hub holds the environment, each
flag and segment the hub holds at the version just read from the store is compiled once for that version
and kept in the hub's cache (the client-side evaluation endpoints use the same); only the others (a
change still on its way to the hub) are compiled for each request, as is everything when the hub does
not hold the environment. Compiling and evaluating run in a worker thread; the hub's cache is read and
written on its event loop only, where it changes."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from functools import partial
from typing import Annotated, Any, cast

from anyio import to_thread
from fastapi import APIRouter, Body, Request

from flagward.domain.errors import InvalidRequest
from flagward.domain.evaluation import CompiledFlag, CompiledSegment, Context, Evaluator
from flagward.domain.events import ItemKind
from flagward.domain.flags import Flag
from flagward.http.deps import ActorDep, DepsDep
from flagward.http.links import link
from flagward.http.sdk._common import hub_of
from flagward.http.sdk.evalx import parse_context
from flagward.services import sdk as service
from flagward.services.sdk import EnvironmentData
from flagward.streaming.cache import EnvironmentCache, Item, compile_item
from flagward.streaming.payloads import SdkItem, flag_item, segment_item

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


class _Compiled:
    """An environment's flags and segments, compiled for one request: taken from the hub's cache where it
    holds them at the versions read (``take``, on the event loop, where the cache changes), the others
    compiled (``complete``, in a worker thread), and those the hub holds handed to it (``give_back``, on
    the loop), so that each version is compiled once."""

    def __init__(self) -> None:
        self.flags: dict[str, CompiledFlag] = {}
        self.segments: dict[str, CompiledSegment] = {}
        self._todo: list[tuple[ItemKind, Callable[[], SdkItem], Item | None]] = []
        self._made: list[tuple[ItemKind, Item, CompiledFlag | CompiledSegment]] = []

    def take(self, data: EnvironmentData, held: EnvironmentCache | None) -> None:
        env_key = data.environment.key
        wanted = [
            # An SDK flag's version is its environment configuration's (``flag_item``), tombstone or not.
            *(
                (ItemKind.FLAG, f.key, f.environments[env_key]["version"], partial(flag_item, f, env_key))
                for f in data.flags
            ),
            *((ItemKind.SEGMENT, s.key, s.version, partial(segment_item, s)) for s in data.segments),
        ]
        for kind, key, version, build in wanted:
            item = held.held_at(kind, key, version) if held is not None else None
            compiled = held.compiled(kind, key) if held is not None and item is not None else None
            if compiled is not None:
                self._keep(kind, key, compiled)
            else:
                self._todo.append((kind, build, item))

    def complete(self) -> None:
        for kind, build, item in self._todo:
            data = build() if item is None else item.data  # what the hub would compile itself
            compiled = compile_item(kind, data)
            self._keep(kind, data["key"], compiled)
            if item is not None:
                self._made.append((kind, item, compiled))

    def give_back(self, held: EnvironmentCache) -> None:
        for kind, item, compiled in self._made:
            held.adopt(kind, item, compiled)

    def _keep(self, kind: ItemKind, key: str, compiled: CompiledFlag | CompiledSegment) -> None:
        if kind is ItemKind.FLAG:
            self.flags[key] = cast(CompiledFlag, compiled)
        else:
            self.segments[key] = cast(CompiledSegment, compiled)


def _evaluations(
    compiled: _Compiled, context: Context, *, path: str, site: str, selected: list[Flag]
) -> list[dict[str, Any]]:
    """The ``selected`` flags, each evaluated for ``context``; ``site``: their console pages' path prefix."""
    compiled.complete()
    evaluator = Evaluator(compiled.flags.get, compiled.segments.get)
    items = []
    for flag in selected:
        detail = evaluator.evaluate(compiled.flags[flag.key], context)
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
    state = hub_of(request).loaded_by_id(data.environment.id)
    compiled = _Compiled()
    compiled.take(data, state.cache if state is not None else None)
    site = f"/{projectKey}/{environmentKey}/features"
    items = await to_thread.run_sync(partial(_evaluations, compiled, parsed, path=path, site=site, selected=page))
    if state is not None:
        compiled.give_back(state.cache)
    return {"_links": {"self": link(path)}, "items": items, "totalCount": len(selected)}
