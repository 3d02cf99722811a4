"""Read side of approvals: requests with their review status and live conflicts, filtered lists, and
the check that refuses a direct change which would make a pending request fail."""

from __future__ import annotations

import json
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import Any, Self, cast

from flagward.domain import resources
from flagward.domain.accounts import Actor
from flagward.domain.approvals import ApprovalRequest, Conflict, ResourceKind, ReviewStatus, Status
from flagward.domain.authorization import authorize_kind, permits
from flagward.domain.conflicts import overlap_conflicts, replay
from flagward.domain.errors import InvalidRequest
from flagward.domain.flags import Flag
from flagward.domain.instructions import FlagChangeContext
from flagward.domain.projects import ApprovalSettings, Environment, Project
from flagward.domain.segment_changes import SegmentChangeContext, apply_segment_instructions
from flagward.domain.segments import Segment
from flagward.services._approvals import Scope, Seen, load_request, parse_resource_id, settings_for
from flagward.services._common import load_environment, load_flag
from flagward.services.authz import (
    authorize_environment_read,
    authorize_environment_scope,
    authorize_project_read,
    may_view_environment,
    with_keys_shown_to,
)
from flagward.services.flag_changes import change_context, flag_step
from flagward.services.ports import ApprovalQuery, Clock, Deps, Page, UnitOfWork
from flagward.services.segments import segment_context

MAX_LIMIT = 200


@dataclass
class RequestView:
    request: ApprovalRequest
    review_status: ReviewStatus
    conflicts: list[Conflict]
    settings: ApprovalSettings
    project: Project | None = None
    environments: list[Environment] = field(default_factory=list)
    flag: Flag | None = None
    segment: Segment | None = None


class _Resolver:
    """Loads each flag, segment and environment once per read, within one transaction."""

    def __init__(self, uow: UnitOfWork, clock: Clock) -> None:
        self.uow, self.clock = uow, clock
        self._flags: dict[tuple[str, str], Flag | None] = {}
        self._segments: dict[tuple[str, str, str], Segment | None] = {}
        self._envs: dict[tuple[str, str], Environment | None] = {}
        self._open: dict[tuple[str, str, str, str], list[ApprovalRequest]] = {}
        self._flag_contexts: dict[tuple[str, str], FlagChangeContext] = {}
        # A request's replay is needed for its own view and for every view of its open siblings.
        self.replays: dict[str, tuple[list[Conflict], list[tuple[dict[str, Any], str]]]] = {}

    def seed(self, request: ApprovalRequest, seen: Seen) -> None:
        """What the use case that wrote ``request`` read, taken as read here (``_approvals.Seen``)."""
        if seen.environment is not None:
            self._envs[request.project_key, request.environment_key] = seen.environment
        if seen.flag is not None and request.resource_kind is ResourceKind.FLAG:
            self._flags[request.project_key, request.resource_key] = seen.flag
        if seen.others is not None:  # the request's own view needs only the others (``conflicts_of``)
            scope = (request.project_key, request.environment_key, request.resource_kind.value, request.resource_key)
            self._open[scope] = seen.others

    def flag(self, project_key: str, key: str) -> Flag | None:
        if (project_key, key) not in self._flags:
            self._flags[project_key, key] = self.uow.flags.get(project_key, key)
        return self._flags[project_key, key]

    def flag_context(self, flag: Flag) -> FlagChangeContext:
        if (flag.project_key, flag.key) not in self._flag_contexts:
            self._flag_contexts[flag.project_key, flag.key] = change_context(self.uow, self.clock, flag)
        return self._flag_contexts[flag.project_key, flag.key]

    def segment(self, project_key: str, env_key: str, key: str) -> Segment | None:
        if (project_key, env_key, key) not in self._segments:
            self._segments[project_key, env_key, key] = self.uow.segments.get(project_key, env_key, key)
        return self._segments[project_key, env_key, key]

    def environment(self, project_key: str, key: str) -> Environment | None:
        if (project_key, key) not in self._envs:
            self._envs[project_key, key] = self.uow.environments.get(project_key, key)
        return self._envs[project_key, key]

    def open_requests(self, request: ApprovalRequest) -> list[ApprovalRequest]:
        scope = (
            request.project_key,
            request.environment_key,
            request.resource_kind.value,
            request.resource_key,
        )
        if scope not in self._open:
            self._open[scope] = self.uow.approvals.open_for(*scope)
        return self._open[scope]


def _segment_step(context: SegmentChangeContext) -> Any:
    def step(segment: Segment, instruction: dict[str, Any]) -> tuple[Segment, bool]:
        change = apply_segment_instructions(segment, [instruction], context=context)
        return change.segment, change.changed

    return step


def _touched(resolver: _Resolver, request: ApprovalRequest) -> tuple[list[Conflict], list[tuple[dict[str, Any], str]]]:
    """The request's instructions replayed on the current resource, once per read."""
    if request.id not in resolver.replays:
        resolver.replays[request.id] = _replay(resolver, request)
    return resolver.replays[request.id]


def _replay(resolver: _Resolver, request: ApprovalRequest) -> tuple[list[Conflict], list[tuple[dict[str, Any], str]]]:
    if request.resource_kind is ResourceKind.FLAG:
        flag = resolver.flag(request.project_key, request.resource_key)
        if flag is None:
            return [Conflict({}, "The flag no longer exists")], []
        flag_replay = replay(
            flag, request.instructions, flag_step(resolver.flag_context(flag), request.environment_key)
        )
        return flag_replay.conflicts, flag_replay.touched
    segment = resolver.segment(request.project_key, request.environment_key, request.resource_key)
    if segment is None:
        return [Conflict({}, "The segment no longer exists")], []
    context = segment_context(resolver.uow, resolver.clock, segment)
    segment_replay = replay(segment, request.instructions, _segment_step(context))
    return segment_replay.conflicts, segment_replay.touched


def _settled_conflicts(request: ApprovalRequest) -> list[Conflict] | None:
    """A failed request's one conflict is why it failed; a completed one has none (None: neither)."""
    if request.status is Status.FAILED:
        return [Conflict({}, f"Applying failed: {request.failure_reason}")]
    if request.status is Status.COMPLETED:
        return []
    return None


def conflicts_of(resolver: _Resolver, request: ApprovalRequest) -> list[Conflict]:
    """A failed or completed request's conflicts (``_settled_conflicts``); a pending or scheduled one
    lists its instructions that would no longer apply, and those that touch what another open request on
    the same resource and environment touches."""
    settled = _settled_conflicts(request)
    if settled is not None:
        return settled
    conflicts, touched = _touched(resolver, request)
    others = {
        other.id: [part for _, part in _touched(resolver, other)[1]]
        for other in resolver.open_requests(request)
        if other.id != request.id
    }
    descriptions = {o.id: o.description for o in resolver.open_requests(request)}
    return conflicts + overlap_conflicts(request, touched, others, descriptions)


def _view(resolver: _Resolver, request: ApprovalRequest, expand: set[str]) -> RequestView:
    env = resolver.environment(request.project_key, request.environment_key)
    settings = settings_for(env, request.resource_kind) if env else ApprovalSettings()
    view = RequestView(
        request=request,
        review_status=request.review_status(settings),
        conflicts=conflicts_of(resolver, request),
        settings=settings,
    )
    if "project" in expand:
        view.project = resolver.uow.projects.get(request.project_key)
    if "environments" in expand and env is not None:
        view.environments = [env]
    if ("flag" in expand or "resource" in expand) and request.resource_kind is ResourceKind.FLAG:
        view.flag = resolver.flag(request.project_key, request.resource_key)
    if "resource" in expand and request.resource_kind is ResourceKind.SEGMENT:
        view.segment = resolver.segment(request.project_key, request.environment_key, request.resource_key)
    return view


def get_request(
    deps: Deps, *, actor: Actor, request_id: str, scope: Scope | None = None, expand: set[str] | None = None
) -> RequestView:
    """The request, for those who may view its environment (``viewEnvironment``). Refused before the
    lookup when the actor could view no environment of the scope (or none at all, without one)."""
    if scope is not None:
        authorize_environment_scope(actor, scope.project_key, scope.environment_key)
    else:
        _authorize_some_request(actor)
    with deps.uow(write=False) as uow:
        request = load_request(uow, request_id, scope)
        authorize_request_read(uow, actor, request)
        return _shown_to(actor, _view(_Resolver(uow, deps.clock), request, expand or set()))


def view_of(deps: Deps, request: ApprovalRequest, seen: Seen | None = None) -> RequestView:
    """The view of a request just written (its live conflicts and review status). ``seen``: what the use
    case that wrote it read (``_approvals.Seen``), not read again; with the environment known, a settled
    (applied or failed) request's view needs no read at all."""
    if seen is not None and seen.environment is not None:
        settled = _settled_conflicts(request)
        if settled is not None:
            settings = settings_for(seen.environment, request.resource_kind)
            return RequestView(request, request.review_status(settings), settled, settings)
    with _ReadWhenNeeded(deps) as uow:
        resolver = _Resolver(cast(UnitOfWork, uow), deps.clock)
        if seen is not None:
            resolver.seed(request, seen)
        return _view(resolver, request, set())


class _ReadWhenNeeded:
    """A unit of work whose read transaction begins when a repository is first asked for: a view of a
    request whose use case read what it needs (``Seen``) begins none."""

    def __init__(self, deps: Deps) -> None:
        self._deps = deps
        self._stack = ExitStack()
        self._uow: UnitOfWork | None = None

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stack.__exit__(*exc)

    def __getattr__(self, name: str) -> Any:
        if self._uow is None:
            self._uow = self._stack.enter_context(self._deps.uow(write=False))
        return getattr(self._uow, name)


def list_for_flag(deps: Deps, *, actor: Actor, scope: Scope) -> list[RequestView]:
    """The flag's approval requests in an environment. Raises NotFound for an unknown project,
    environment or flag (as LaunchDarkly answers), not an empty list."""
    authorize_project_read(actor, scope.project_key)
    with deps.uow(write=False) as uow:
        authorize_environment_read(actor, load_environment(uow, scope.project_key, scope.environment_key))
        load_flag(uow, scope.project_key, scope.flag_key)
        resolver = _Resolver(uow, deps.clock)
        requests = uow.approvals.for_resource(scope.project_key, scope.environment_key, "flag", scope.flag_key)
        return [_view(resolver, r, set()) for r in requests]


@dataclass(frozen=True)
class RequestFilter:
    query: ApprovalQuery
    review_statuses: tuple[str, ...] = ()


_FILTER_FIELDS = {
    "notifyMemberIds": "anyOf",
    "requestorId": "equals",
    "resourceId": "equals",
    "resourceKind": "equals",
    "reviewStatus": "anyOf",
    "status": "anyOf",
    "projectKey": "equals",
}


def _split_filter(raw: str) -> list[str]:
    parts, depth, current = [], 0, ""
    for char in raw:
        depth += {"[": 1, "]": -1}.get(char, 0)
        if char == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += char
    return [p.strip() for p in [*parts, current] if p.strip()]


def parse_filter(raw: str | None) -> dict[str, Any]:
    """``field operator value`` clauses joined by commas (commas inside ``[...]`` belong to values)."""
    result: dict[str, Any] = {}
    for clause in _split_filter(raw or ""):
        field_name, _, rest = clause.partition(" ")
        operator, _, value = rest.strip().partition(" ")
        if field_name not in _FILTER_FIELDS:
            raise InvalidRequest("Unsupported filter field. Filter field must be one of: " + ", ".join(_FILTER_FIELDS))
        if operator != _FILTER_FIELDS[field_name]:
            raise InvalidRequest(f"filter {field_name} supports the operator '{_FILTER_FIELDS[field_name]}'")
        if operator == "anyOf":
            try:
                values = json.loads(value)
            except json.JSONDecodeError:
                values = None
            if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
                raise InvalidRequest(f"filter {field_name} anyOf needs a JSON array of strings")
            result[field_name] = tuple(values)
        else:
            result[field_name] = value.strip()
    return result


def build_filter(raw: str | None, page: Page) -> RequestFilter:
    parsed = parse_filter(raw)
    project_key = parsed.get("projectKey")
    env_key = kind = key = None
    if "resourceId" in parsed:
        project_key, env_key, resource_kind, key = parse_resource_id(parsed["resourceId"])
        kind = resource_kind.value
    review = parsed.get("reviewStatus", ())
    query = ApprovalQuery(
        project_key=project_key,
        environment_key=env_key,
        resource_kind=parsed.get("resourceKind", kind),
        resource_key=key,
        requestor_id=parsed.get("requestorId"),
        statuses=parsed.get("status", ()),
        notify_member_ids=parsed.get("notifyMemberIds", ()),
        page=None if review else page,
    )
    return RequestFilter(query=query, review_statuses=review)


def list_requests(
    deps: Deps, *, actor: Actor, filter: RequestFilter, page: Page, expand: set[str]
) -> tuple[list[RequestView], int]:
    """Requests matching ``filter``, newest first. reviewStatus depends on each environment's current
    settings, so that filter is applied after the others, in memory. Requests in environments the actor
    may not view are left out of the page (and of the total); Forbidden when it may view none of them."""
    if page.limit > MAX_LIMIT:
        raise InvalidRequest(f"limit must be at most {MAX_LIMIT}")
    _authorize_some_request(actor)
    with deps.uow(write=False) as uow:
        resolver = _Resolver(uow, deps.clock)
        found, total = uow.approvals.find(filter.query)
        requests = [r for r in found if _may_view(resolver, actor, r)]
        if found and not requests:
            authorize_request_read(uow, actor, found[0])  # may view none of them: refused, as before
        total -= len(found) - len(requests)
        if filter.review_statuses:
            requests = [r for r in requests if _review_status(resolver, r) in filter.review_statuses]
            total = len(requests)
            requests = requests[page.offset : page.offset + page.limit]
        return [_shown_to(actor, _view(resolver, r, expand)) for r in requests], total


def _shown_to(actor: Actor, view: RequestView) -> RequestView:
    """The view with its expanded environments' SDK and mobile keys masked unless the actor may see them."""
    view.environments = [with_keys_shown_to(actor, e) for e in view.environments]
    return view


def _authorize_some_request(actor: Actor) -> None:
    """Refused (403) before any lookup when the actor could view no project or no environment at all."""
    authorize_kind(actor, "viewProject", "proj/*")
    authorize_kind(actor, "viewEnvironment", "proj/*:env/*")


def authorize_request_read(uow: UnitOfWork, actor: Actor, request: ApprovalRequest) -> None:
    env = uow.environments.get(request.project_key, request.environment_key)
    authorize_project_read(actor, request.project_key)
    if env is not None:
        authorize_environment_read(actor, env)


def _may_view(resolver: _Resolver, actor: Actor, request: ApprovalRequest) -> bool:
    env = resolver.environment(request.project_key, request.environment_key)
    return permits(actor, "viewProject", resources.project(request.project_key)) and (
        env is None or may_view_environment(actor, env)
    )


def _review_status(resolver: _Resolver, request: ApprovalRequest) -> str:
    env = resolver.environment(request.project_key, request.environment_key)
    return request.review_status(settings_for(env, request.resource_kind) if env else ApprovalSettings()).value
