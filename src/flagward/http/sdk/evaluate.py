"""``POST /api/v2/projects/{projectKey}/environments/{environmentKey}/flags/evaluate``: every flag of an
environment evaluated for one context, in LaunchDarkly's ``ContextInstanceEvaluations`` shape, for
debugging targeting. It reads the store (a change is visible at once) and records no flag status."""

from __future__ import annotations

import json
import re
from typing import Annotated, Any

from fastapi import APIRouter, Body

from flagward.domain.errors import InvalidRequest
from flagward.domain.evaluation import Evaluator, compile_flag, compile_segment
from flagward.domain.flags import Flag
from flagward.http.deps import ActorDep, DepsDep
from flagward.http.links import link
from flagward.http.sdk.evalx import parse_context
from flagward.services import sdk as service
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


@router.post(PATH, summary="Evaluate flags for context instance")
def evaluate_context_instance(
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
    data = service.data_for_evaluation(deps, actor=actor, project_key=projectKey, env_key=environmentKey)
    env_key = data.environment.key
    compiled = {f.key: compile_flag(flag_item(f, env_key)) for f in data.flags}
    segments = {s.key: compile_segment(segment_item(s)) for s in data.segments}
    evaluator = Evaluator(compiled.get, segments.get)
    selected = _selected([f for f in data.flags if not f.archived], filter, sort)
    page = selected[max(offset, 0) :] if limit < 0 else selected[max(offset, 0) : max(offset, 0) + limit]
    path = PATH.format(projectKey=projectKey, environmentKey=environmentKey)
    items = []
    for flag in page:
        detail = evaluator.evaluate(compiled[flag.key], parsed)
        items.append(
            {
                "_links": {
                    "self": link(path),
                    "site": link(f"/{projectKey}/{environmentKey}/features/{flag.key}/targeting", "text/html"),
                },
                "_value": detail.value,
                "key": flag.key,
                "name": flag.name,
                "reason": _reason(detail.reason),
            }
        )
    return {"_links": {"self": link(path)}, "items": items, "totalCount": len(selected)}
