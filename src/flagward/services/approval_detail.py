"""Everything a reviewer needs to judge one flag approval request: the request with its review status
and live conflicts (``approval_queries``), and the environment's targeting in each state that matters.

- ``current``: the target environment's configuration now;
- ``proposed``: ``current`` with the request's instructions replayed on it (those that no longer apply
  are skipped; they are the request's conflicts), None when the request deletes the flag;
- ``base``: the configuration the request was made against (its ``base_version``), from the audit log's
  record of the change that produced that version; the same as ``current`` while nothing changed, None
  when the log no longer shows it;
- ``source``: for a copy request, the source environment's configuration now.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any, cast

from flagward.domain.accounts import Actor
from flagward.domain.approvals import ResourceKind
from flagward.domain.audit import flag_spec
from flagward.domain.conflicts import replay
from flagward.domain.errors import InvalidRequest
from flagward.domain.flags import Flag, FlagConfig
from flagward.domain.projects import Environment
from flagward.services.approval_inbox import people
from flagward.services.approval_queries import RequestView, get_request
from flagward.services.authz import request_resource
from flagward.services.flag_changes import change_context, deletes, flag_step
from flagward.services.ports import AuditQuery, Deps, UnitOfWork

# How far back the audit log is searched for the base configuration (newest entries first).
BASE_SEARCH_LIMIT = 100


@dataclass
class RequestDetail:
    view: RequestView
    environment: Environment | None = None
    source_environment: Environment | None = None
    flag: Flag | None = None
    current: FlagConfig | None = None
    proposed: FlagConfig | None = None
    base: FlagConfig | None = None
    source: FlagConfig | None = None
    deletes_flag: bool = False
    people: dict[str, str] = field(default_factory=dict)
    resource: str = ""  # the request's flag or segment in its environment, with tags (for authorization)
    team_names: dict[str, str] = field(default_factory=dict)  # the required reviewer teams that still exist
    # The flag in each state (for ``domain.diff``, which compares flags): now, after, when requested.
    proposed_flag: Flag | None = None
    base_flag: Flag | None = None
    # Other flags of the project that prerequisites name (for ``domain.describe``'s ``get_flag``).
    related_flags: dict[str, Flag] = field(default_factory=dict)

    def get_flag(self, key: str) -> Flag | None:
        return self.related_flags.get(key)

    @property
    def changed_since_requested(self) -> bool:
        return self.current is not None and self.current["version"] != self.view.request.base_version


def request_detail(deps: Deps, *, actor: Actor, request_id: str) -> RequestDetail:
    """The request and its configurations. Raises NotFound, Forbidden (no read right: ``get_request``)."""
    view = get_request(deps, actor=actor, request_id=request_id, expand={"project", "flag"})
    request = view.request
    detail = RequestDetail(view=view)
    with deps.uow(write=False) as uow:
        detail.environment = uow.environments.get(request.project_key, request.environment_key)
        detail.resource = request_resource(uow, request, detail.environment)
        if request.source is not None:
            detail.source_environment = uow.environments.get(request.project_key, request.source.key)
        if request.resource_kind is ResourceKind.FLAG:
            _configurations(uow, deps, detail)
        reviewers = [r.member_id for r in request.reviews]
        mentioned = [request.requestor_id, request.applied_by_member_id, *request.notify_member_ids, *reviewers]
        detail.people = people(uow, mentioned)
        found = (uow.teams.get(r.team_key) for r in request.required_reviewers)
        detail.team_names = {team.key: team.name for team in found if team is not None}
    return detail


def _configurations(uow: UnitOfWork, deps: Deps, detail: RequestDetail) -> None:
    request = detail.view.request
    flag = uow.flags.get(request.project_key, request.resource_key)
    if flag is None or request.environment_key not in flag.environments:
        return
    detail.flag = flag
    detail.current = copy.deepcopy(flag.environments[request.environment_key])
    if request.source is not None and request.source.key in flag.environments:
        detail.source = copy.deepcopy(flag.environments[request.source.key])
    detail.deletes_flag = _deletes(request.instructions)
    if not detail.deletes_flag:
        step = flag_step(change_context(uow, deps.clock, flag), request.environment_key)
        detail.proposed_flag = replay(flag, request.instructions, step).result
        detail.proposed = detail.proposed_flag.environments[request.environment_key]
    if detail.current["version"] == request.base_version:
        detail.base, detail.base_flag = detail.current, flag
    else:
        detail.base = _base_from_audit(
            uow, request.project_key, request.resource_key, request.environment_key, request.base_version
        )
        if detail.base is not None:
            detail.base_flag = flag.clone()
            detail.base_flag.environments[request.environment_key] = detail.base
    detail.related_flags = _related(uow, detail)


def _related(uow: UnitOfWork, detail: RequestDetail) -> dict[str, Flag]:
    keys: set[str] = set()
    for config in (detail.current, detail.proposed, detail.base, detail.source):
        if config is not None:
            keys.update(p["key"] for p in config["prerequisites"])
    for instruction in detail.view.request.instructions:
        if "Prerequisite" in str(instruction.get("kind")) and isinstance(instruction.get("key"), str):
            keys.add(instruction["key"])
    project = detail.view.request.project_key
    found = {key: uow.flags.get(project, key) for key in sorted(keys)}
    return {key: flag for key, flag in found.items() if flag is not None}


def _deletes(instructions: list[dict[str, Any]]) -> bool:
    try:
        return deletes(instructions)
    except InvalidRequest:  # a malformed deleteFlag mix: the replay reports it as a conflict
        return False


def _base_from_audit(uow: UnitOfWork, project_key: str, flag_key: str, env_key: str, version: int) -> FlagConfig | None:
    """The configuration at ``version``: the ``current`` document of the change that produced it."""
    entries = uow.audit.find(AuditQuery(spec=flag_spec(project_key, flag_key, env_key), limit=BASE_SEARCH_LIMIT))
    for entry in entries:
        for doc in (entry.current, entry.previous):
            config = ((doc or {}).get("environments") or {}).get(env_key)
            if isinstance(config, dict) and config.get("version") == version:
                return cast(FlagConfig, {"offVariation": None, **copy.deepcopy(config)})
    return None
