"""The read side of the console's flag pages: a project's flags in one environment, one flag with its
targeting everywhere, its recent evaluations, its history and open requests, and a change previewed
before it is requested. Nothing here writes; changes go through ``flag_changes.update_flag`` or
``approval_create.create_flag_request`` like every other client's."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from flagward.domain.accounts import Actor, Member, Role, Team
from flagward.domain.approvals import ApprovalRequest
from flagward.domain.audit import AuditEntry, flag_spec
from flagward.domain.authorization import authorize
from flagward.domain.errors import NotFound
from flagward.domain.flag_statuses import DAY_MS, WINDOW_MS
from flagward.domain.flags import Flag
from flagward.domain.instructions import apply_flag_instructions
from flagward.domain.projects import Environment, Project
from flagward.services._common import load_environment, load_flag, load_project
from flagward.services.approval_inbox import people
from flagward.services.authz import (
    authorize_environment_read,
    authorize_project_read,
    flag_resource,
    visible_environments,
)
from flagward.services.flag_changes import change_context
from flagward.services.flag_gate import approval_required_in, can_bypass_approval
from flagward.services.ports import AuditQuery, Deps, FlagQuery, MemberQuery, Page, UnitOfWork

CHART_DAYS = 14
HISTORY_LIMIT = 10
REVIEWER_LIMIT = 200
_REVIEWER_ROLES = (Role.WRITER.value, Role.ADMIN.value, Role.OWNER.value)


@dataclass(frozen=True)
class FlagRow:
    flag: Flag
    evaluations: int  # in the chosen environment over the status window (7 days)
    last_requested: int | None


@dataclass(frozen=True)
class FlagList:
    project: Project
    environments: list[Environment]
    environment: Environment | None  # the chosen one; None when the project has none
    rows: list[FlagRow]
    total: int
    tags: list[str]
    approval_required: bool  # in the chosen environment, for flags without tags (tag rules aside)


def _chosen(environments: list[Environment], env_key: str | None) -> Environment | None:
    by_key = {e.key: e for e in environments}
    if env_key in by_key:
        return by_key[env_key]
    # Production first when nothing is chosen: it is what people check most.
    critical = [e for e in environments if e.critical or e.key == "production"]
    candidates = critical or environments
    return candidates[0] if candidates else None


def flag_list(deps: Deps, *, actor: Actor, project_key: str, env_key: str | None, query: FlagQuery) -> FlagList:
    """The project's flags (a page of them) with their state in ``env_key`` (default: production, or the
    first environment the actor may view). Raises Forbidden, NotFound."""
    authorize_project_read(actor, project_key)
    now = deps.clock.now_ms()
    with deps.uow(write=False) as uow:
        project = load_project(uow, project_key)
        environments = visible_environments(actor, uow.environments.find(project_key)[0])
        environment = _chosen(environments, env_key)
        flags, total = uow.flags.find(project_key, query)
        usage = (
            uow.flag_usage.for_environment(environment.id, since_day=(now - WINDOW_MS) // DAY_MS) if environment else {}
        )
        tags = uow.flags.tags(project_key)
    rows = []
    for flag in flags:
        used = usage.get(flag.key)
        rows.append(FlagRow(flag, sum(used.counts.values()) if used else 0, used.last_requested if used else None))
    required = environment is not None and environment.approval_settings.required
    return FlagList(project, environments, environment, rows, total, tags, required)


@dataclass(frozen=True)
class Evaluations:
    """Evaluations per day (oldest first) and per variation index (``-1``: the application's default)."""

    days: list[int]  # day numbers (days since the epoch, UTC)
    by_variation: dict[int, list[int]]
    last_requested: int | None

    @property
    def total(self) -> int:
        return sum(sum(counts) for counts in self.by_variation.values())


@dataclass
class FlagOverview:
    project: Project
    flag: Flag
    environments: list[Environment]
    environment: Environment  # the chosen one
    approval_required: set[str]  # environment keys where changing what the flag serves needs approval
    can_bypass: bool  # the viewer may change it there anyway (owners, admins)
    evaluations: Evaluations
    history: list[AuditEntry]
    open_requests: list[ApprovalRequest]
    people: dict[str, str] = field(default_factory=dict)
    related_flags: dict[str, Flag] = field(default_factory=dict)

    def get_flag(self, key: str) -> Flag | None:
        return self.related_flags.get(key)


def _related(uow: UnitOfWork, flag: Flag) -> dict[str, Flag]:
    keys = {p["key"] for config in flag.environments.values() for p in config["prerequisites"]}
    found = {key: uow.flags.get(flag.project_key, key) for key in sorted(keys)}
    return {key: other for key, other in found.items() if other is not None}


def _evaluations(uow: UnitOfWork, env: Environment, flag_key: str, now: int, days: int) -> Evaluations:
    today = now // DAY_MS
    day_numbers = list(range(today - days + 1, today + 1))
    counts = uow.flag_usage.daily_counts(env.id, flag_key, since_day=day_numbers[0])
    variations = sorted({v for per_day in counts.values() for v in per_day})
    by_variation = {v: [counts.get(day, {}).get(v, 0) for day in day_numbers] for v in variations}
    usage = uow.flag_usage.for_environment(env.id, since_day=today, flag_key=flag_key).get(flag_key)
    return Evaluations(day_numbers, by_variation, usage.last_requested if usage else None)


def _history(uow: UnitOfWork, flag: Flag) -> list[AuditEntry]:
    query = AuditQuery(spec=flag_spec(flag.project_key, flag.key), limit=HISTORY_LIMIT)
    return uow.audit.find(query)


def flag_overview(
    deps: Deps, *, actor: Actor, project_key: str, flag_key: str, env_key: str | None, days: int = CHART_DAYS
) -> FlagOverview:
    """One flag for its console page, with ``env_key`` chosen (default: production, or the first
    environment the actor may view). Raises Forbidden, NotFound (the project, the flag, or a project
    without environments)."""
    authorize_project_read(actor, project_key)
    with deps.uow(write=False) as uow:
        project = load_project(uow, project_key)
        flag = load_flag(uow, project_key, flag_key)
        environments = visible_environments(actor, uow.environments.find(project_key)[0])
        environment = _chosen([e for e in environments if e.key in flag.environments], env_key)
        if environment is None:
            raise NotFound(f"Project '{project_key}' has no environments")
        history = _history(uow, flag)
        requests = uow.approvals.open_for(project_key, None, "flag", flag_key)
        return FlagOverview(
            project=project,
            flag=flag,
            environments=[e for e in environments if e.key in flag.environments],
            environment=environment,
            approval_required=approval_required_in(uow, flag, environments),
            can_bypass=can_bypass_approval(actor, flag, environment),
            evaluations=_evaluations(uow, environment, flag_key, deps.clock.now_ms(), days),
            history=history,
            open_requests=requests,
            people=people(uow, [*(e.actor.member_id for e in history), *(r.requestor_id for r in requests)]),
            related_flags=_related(uow, flag),
        )


@dataclass(frozen=True)
class ChangePreview:
    """A change to one environment of a flag, as it would be: before and after (for ``domain.diff``)."""

    flag: Flag
    proposed: Flag
    environment: Environment
    related_flags: dict[str, Flag]
    reviewers: list[Member]
    teams: list[Team]
    approval_required: bool  # the environment requires approval for this flag (bypass aside)

    def get_flag(self, key: str) -> Flag | None:
        return self.related_flags.get(key)


def preview_flag_change(
    deps: Deps, *, actor: Actor, project_key: str, flag_key: str, env_key: str, instructions: list[dict[str, Any]]
) -> ChangePreview:
    """What ``instructions`` would make of the flag in ``env_key``, checked as a request would check them,
    with the members and teams who could be asked to review. Stores nothing. Raises Forbidden, NotFound,
    InvalidRequest (InstructionError)."""
    authorize_project_read(actor, project_key)
    with deps.uow(write=False) as uow:
        environment = load_environment(uow, project_key, env_key)
        flag = load_flag(uow, project_key, flag_key)
        authorize(actor, "createApprovalRequest", flag_resource(flag, environment))
        change = apply_flag_instructions(
            copy.deepcopy(flag), instructions, environment_key=env_key, context=change_context(uow, deps.clock, flag)
        )
        members, _ = uow.members.find(MemberQuery(roles=_REVIEWER_ROLES, page=Page(limit=REVIEWER_LIMIT)))
        teams, _ = uow.teams.find(None, Page(limit=REVIEWER_LIMIT))
        related = _related(uow, change.flag) | _related(uow, flag)
        required = env_key in approval_required_in(uow, flag, [environment])
    return ChangePreview(flag, change.flag, environment, related, members, teams, required)


def needs_request(deps: Deps, *, actor: Actor, project_key: str, flag_key: str, env_key: str) -> bool:
    """Whether a change by ``actor`` to what the flag serves in ``env_key`` must go through an approval
    request (the environment requires approval for the flag and ``actor`` may not bypass it): the gate's
    own judgement, asked before the change is made. Raises Forbidden, NotFound."""
    authorize_project_read(actor, project_key)
    with deps.uow(write=False) as uow:
        environment = load_environment(uow, project_key, env_key)
        authorize_environment_read(actor, environment)
        flag = load_flag(uow, project_key, flag_key)
        required = approval_required_in(uow, flag, [environment])
    return env_key in required and not can_bypass_approval(actor, flag, environment)
