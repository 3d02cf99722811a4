"""In-memory fakes of every port in ``flagward.services.ports``, for unit tests of the services.

``FakeStore`` holds the committed state; a ``FakeUnitOfWork`` works on a deep copy and publishes it on
commit, so rollback-by-default and all-or-nothing behave as they do on a real database.
"""

from __future__ import annotations

import copy
import hashlib
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Self

from flagward.domain.accounts import AccessToken, Member, MemberContact, Role, Team
from flagward.domain.approvals import ApprovalRequest, Status
from flagward.domain.audit import GENESIS_HASH, AuditEntry, spec_matches
from flagward.domain.audit_chain import seal
from flagward.domain.events import Event
from flagward.domain.expiring_targets import ExpiringTarget
from flagward.domain.flag_statuses import EvaluationTally, FlagUsage
from flagward.domain.flags import Flag, FlagConfig
from flagward.domain.notifications import Notification
from flagward.domain.outbox import Failure, MessageStatus, NewMessage, OutboxMessage, OutboxStats
from flagward.domain.projects import ApprovalSettings, Environment, Project
from flagward.domain.roles import CustomRole, RoleHolders
from flagward.domain.scheduled_changes import ScheduledChange, ScheduleStatus
from flagward.domain.segments import Segment
from flagward.domain.triggers import Trigger
from flagward.domain.webhooks import Webhook
from flagward.domain.workflows import ExecutionStatus, Template, Workflow
from flagward.services.ports import (
    ApprovalQuery,
    AuditQuery,
    Deps,
    FlagQuery,
    MemberQuery,
    OutboxQuery,
    Page,
    ProjectQuery,
)


class FrozenClock:
    def __init__(self, now: int = 1_700_000_000_000) -> None:
        self.now = now

    def now_ms(self) -> int:
        return self.now

    def advance(self, ms: int) -> None:
        self.now += ms


class RecordingBroker:
    def __init__(self) -> None:
        self.published: list[Event] = []

    def publish(self, events: list[Event]) -> None:
        self.published.extend(events)


class PlainHasher:
    """A fast stand-in for argon2: a salted digest, enough to tell passwords apart in tests."""

    def hash(self, secret: str) -> str:
        return "plain$" + hashlib.sha256(secret.encode()).hexdigest()

    def verify(self, secret_hash: str | None, secret: str) -> bool:
        return secret_hash is not None and secret_hash == self.hash(secret)


def _page(items: list[Any], page: Page | None) -> list[Any]:
    return items if page is None else items[page.offset : page.offset + page.limit]


@dataclass
class FakeStore:
    projects: dict[str, Project] = field(default_factory=dict)
    environments: dict[str, Environment] = field(default_factory=dict)  # by id
    flags: dict[tuple[str, str], Flag] = field(default_factory=dict)
    segments: dict[tuple[str, str, str], Segment] = field(default_factory=dict)
    tombstones: dict[tuple[str, str, str], int] = field(default_factory=dict)
    flag_usage: dict[tuple[str, str], EvaluationTally] = field(default_factory=dict)
    approvals: dict[str, ApprovalRequest] = field(default_factory=dict)
    members: dict[str, Member] = field(default_factory=dict)
    teams: dict[str, Team] = field(default_factory=dict)
    tokens: dict[str, AccessToken] = field(default_factory=dict)
    sessions: dict[str, tuple[str, int]] = field(default_factory=dict)
    invitations: dict[str, tuple[str, int]] = field(default_factory=dict)  # token hash -> (member, expires)
    rate_counters: dict[str, tuple[int, int]] = field(default_factory=dict)  # key -> (count, resets_at)
    audit: list[AuditEntry] = field(default_factory=list)
    meta: dict[str, str] = field(default_factory=dict)
    outbox: list[OutboxMessage] = field(default_factory=list)
    notifications: list[Notification] = field(default_factory=list)
    webhooks: dict[str, Webhook] = field(default_factory=dict)
    scheduled_changes: dict[str, ScheduledChange] = field(default_factory=dict)
    expiring_targets: dict[str, ExpiringTarget] = field(default_factory=dict)
    triggers: dict[str, Trigger] = field(default_factory=dict)
    roles: dict[str, CustomRole] = field(default_factory=dict)  # by id
    workflows: dict[str, Workflow] = field(default_factory=dict)
    workflow_templates: dict[str, Template] = field(default_factory=dict)


class FakeProjects:
    def __init__(self, store: FakeStore) -> None:
        self.s = store

    def get(self, key: str, *, for_update: bool = False) -> Project | None:
        return copy.deepcopy(self.s.projects.get(key))

    def lock_shared(self, key: str) -> Project | None:
        return self.get(key)  # one transaction at a time: no lock is weaker than another

    def held_shared(self, key: str) -> bool:
        return False

    def find(self, query: ProjectQuery) -> tuple[list[Project], int]:
        items = [
            p
            for p in self.s.projects.values()
            if (not query.query or query.query.lower() in (p.name + p.key).lower())
            and all(t in p.tags for t in query.tags)
        ]
        reverse = query.sort.startswith("-")
        attr = "creation_date" if "creationDate" in query.sort else "name"
        items.sort(key=lambda p: (getattr(p, attr), p.key), reverse=reverse)
        return copy.deepcopy(_page(items, query.page)), len(items)

    def add(self, project: Project) -> None:
        self.s.projects[project.key] = copy.deepcopy(project)

    update = add

    def delete(self, project: Project) -> None:
        self.s.projects.pop(project.key, None)
        for env in [e for e in self.s.environments.values() if e.project_id == project.id]:
            FakeEnvironments(self.s).delete(env)
        for key in [k for k in self.s.flags if k[0] == project.key]:
            del self.s.flags[key]


class FakeEnvironments:
    def __init__(self, store: FakeStore) -> None:
        self.s = store

    def get(self, project_key: str, key: str, *, for_update: bool = False) -> Environment | None:
        found = [e for e in self.s.environments.values() if e.project_key == project_key and e.key == key]
        return copy.deepcopy(found[0]) if found else None

    def get_by_id(self, environment_id: str) -> Environment | None:
        return copy.deepcopy(self.s.environments.get(environment_id))

    def get_by_credential(self, credential: str) -> Environment | None:
        found = [e for e in self.s.environments.values() if credential in (e.api_key, e.mobile_key)]
        return copy.deepcopy(found[0]) if found else None

    def find(self, project_key: str, page: Page | None = None) -> tuple[list[Environment], int]:
        items = sorted(
            (e for e in self.s.environments.values() if e.project_key == project_key),
            key=lambda e: (e.creation_date, e.key),
        )
        return copy.deepcopy(_page(items, page)), len(items)

    def add(self, environment: Environment) -> None:
        self.s.environments[environment.id] = copy.deepcopy(environment)

    update = add

    def delete(self, environment: Environment) -> None:
        self.s.environments.pop(environment.id, None)
        for flag in self.s.flags.values():
            if flag.project_key == environment.project_key:
                flag.environments.pop(environment.key, None)


class FakeFlags:
    def __init__(self, store: FakeStore) -> None:
        self.s = store

    def get(self, project_key: str, key: str, *, for_update: bool = False, for_share: bool = False) -> Flag | None:
        return copy.deepcopy(self.s.flags.get((project_key, key)))

    def find(self, project_key: str, query: FlagQuery) -> tuple[list[Flag], int]:
        items = [
            f
            for (p, _), f in self.s.flags.items()
            if p == project_key
            and (not query.query or query.query.lower() in (f.name + f.key).lower())
            and all(t in f.tags for t in query.tags)
            and (query.archived is None or f.archived == query.archived)
        ]
        items.sort(key=lambda f: (f.creation_date, f.key))
        return copy.deepcopy(_page(items, query.page)), len(items)

    def list_all(self, project_key: str) -> list[Flag]:
        return copy.deepcopy(sorted((f for (p, _), f in self.s.flags.items() if p == project_key), key=lambda f: f.key))

    def tags(self, project_key: str) -> list[str]:
        return sorted({t for (p, _), f in self.s.flags.items() if p == project_key for t in f.tags})

    def list_for_environment(self, project_key: str, env_key: str) -> list[Flag]:
        flags = [f for f in self.list_all(project_key) if env_key in f.environments]
        for flag in flags:
            flag.environments = {env_key: flag.environments[env_key]}
        return flags

    def add(self, flag: Flag) -> None:
        self.s.flags[flag.project_key, flag.key] = copy.deepcopy(flag)

    def update(self, flag: Flag, *, environments: Iterable[str] = ()) -> None:
        self.add(flag)

    def delete(self, flag: Flag) -> None:
        self.s.flags.pop((flag.project_key, flag.key), None)

    def add_environment(self, project_key: str, env_key: str, configs: dict[str, FlagConfig]) -> None:
        for key, config in configs.items():
            self.s.flags[project_key, key].environments[env_key] = copy.deepcopy(config)


class FakeSegments:
    def __init__(self, store: FakeStore) -> None:
        self.s = store

    def get(self, project_key: str, env_key: str, key: str, *, for_update: bool = False) -> Segment | None:
        return copy.deepcopy(self.s.segments.get((project_key, env_key, key)))

    def find(self, project_key: str, env_key: str, query: str | None, page: Page | None) -> tuple[list[Segment], int]:
        items = sorted(
            (
                s
                for (p, e, _), s in self.s.segments.items()
                if (p, e) == (project_key, env_key) and (not query or query.lower() in (s.name + s.key).lower())
            ),
            key=lambda s: s.key,
        )
        return copy.deepcopy(_page(items, page)), len(items)

    def keys(self, project_key: str, env_key: str) -> set[str]:
        return {k for (p, e, k) in self.s.segments if (p, e) == (project_key, env_key)}

    def add(self, segment: Segment) -> None:
        self.s.segments[segment.project_key, segment.environment_key, segment.key] = copy.deepcopy(segment)

    update = add

    def delete(self, segment: Segment) -> None:
        self.s.segments.pop((segment.project_key, segment.environment_key, segment.key), None)


class FakeTombstones:
    def __init__(self, store: FakeStore) -> None:
        self.s = store

    def version(self, environment_id: str, kind: str, key: str) -> int:
        return self.s.tombstones.get((environment_id, kind, key), 0)

    def record(self, environment_id: str, kind: str, key: str, version: int) -> None:
        self.s.tombstones[environment_id, kind, key] = max(version, self.version(environment_id, kind, key))

    def for_environment(self, environment_id: str) -> dict[tuple[str, str], int]:
        return {(k, key): v for (e, k, key), v in self.s.tombstones.items() if e == environment_id}


class FakeFlagUsage:
    """Evaluation tallies merged per (environment, flag); counts are not pruned by day here."""

    def __init__(self, store: FakeStore) -> None:
        self.s = store

    def add(self, tallies: Sequence[EvaluationTally]) -> None:
        for tally in tallies:
            held = self.s.flag_usage.setdefault(
                (tally.environment_id, tally.flag_key), EvaluationTally(tally.environment_id, tally.flag_key)
            )
            held.add(copy.deepcopy(tally))

    def for_environment(
        self, environment_id: str, *, since_day: int, flag_key: str | None = None
    ) -> dict[str, FlagUsage]:
        result = {}
        for (env_id, key), tally in self.s.flag_usage.items():
            if env_id == environment_id and flag_key in (None, key):
                counts: dict[int, int] = {}
                for (day, variation), count in tally.counts.items():
                    if day >= since_day:
                        counts[variation] = counts.get(variation, 0) + count
                result[key] = FlagUsage(tally.last_requested, tally.default, tally.has_default, counts)
        return result

    def daily_counts(self, environment_id: str, flag_key: str, *, since_day: int) -> dict[int, dict[int, int]]:
        tally = self.s.flag_usage.get((environment_id, flag_key))
        by_day: dict[int, dict[int, int]] = {}
        for (day, variation), count in tally.counts.items() if tally else ():
            if day >= since_day:
                by_day.setdefault(day, {})[variation] = count
        return by_day

    def prune(self, *, before_day: int) -> None:
        for tally in self.s.flag_usage.values():
            tally.counts = {slot: n for slot, n in tally.counts.items() if slot[0] >= before_day}


class FakeApprovals:
    def __init__(self, store: FakeStore) -> None:
        self.s = store

    def get(self, request_id: str, *, for_update: bool = False) -> ApprovalRequest | None:
        return copy.deepcopy(self.s.approvals.get(request_id))

    def add(self, request: ApprovalRequest, *, environment: Environment | None = None) -> None:
        self.s.approvals[request.id] = copy.deepcopy(request)

    def update(self, request: ApprovalRequest) -> None:
        self.s.approvals[request.id] = copy.deepcopy(request)

    def delete(self, request: ApprovalRequest) -> None:
        self.s.approvals.pop(request.id, None)

    def open_for(self, project_key: str, env_key: str | None, kind: str, key: str) -> list[ApprovalRequest]:
        return copy.deepcopy(
            sorted(
                (
                    r
                    for r in self.s.approvals.values()
                    if (r.project_key, r.resource_kind.value, r.resource_key) == (project_key, kind, key)
                    and (env_key is None or r.environment_key == env_key)
                    and r.status in (Status.PENDING, Status.SCHEDULED)
                ),
                key=lambda r: r.creation_date,
            )
        )

    def for_resource(self, project_key: str, env_key: str, kind: str, key: str) -> list[ApprovalRequest]:
        return copy.deepcopy(
            sorted(
                (
                    r
                    for r in self.s.approvals.values()
                    if (r.project_key, r.environment_key, r.resource_kind.value, r.resource_key)
                    == (project_key, env_key, kind, key)
                ),
                key=lambda r: r.creation_date,
                reverse=True,
            )
        )

    def delete_for_resource(self, project_key: str, kind: str, key: str) -> None:
        for request in self.open_for(project_key, None, kind, key):
            self.delete(request)

    def find(self, query: ApprovalQuery) -> tuple[list[ApprovalRequest], int]:
        q = query
        items = [
            r
            for r in self.s.approvals.values()
            if (not q.project_key or r.project_key == q.project_key)
            and (not q.environment_key or r.environment_key == q.environment_key)
            and (not q.resource_kind or r.resource_kind.value == q.resource_kind)
            and (not q.resource_key or r.resource_key == q.resource_key)
            and (not q.requestor_id or r.requestor_id == q.requestor_id)
            and (not q.statuses or r.status.value in q.statuses)
            and (not q.notify_member_ids or set(q.notify_member_ids) & set(r.notify_member_ids))
            and _review_match(q, r)
        ]
        items.sort(key=lambda r: (r.creation_date, r.id), reverse=True)
        return copy.deepcopy(_page(items, q.page)), len(items)

    def due(self, now: int, limit: int = 20) -> list[str]:
        due = sorted(
            (
                r
                for r in self.s.approvals.values()
                if r.status is Status.SCHEDULED and r.execution_date is not None and r.execution_date <= now
            ),
            key=lambda r: r.execution_date or 0,
        )
        return [r.id for r in due[:limit]]

    def due_for_check(self, checked_before: int, limit: int = 20) -> list[str]:
        due = sorted(
            (
                r
                for r in self.s.approvals.values()
                if r.status is Status.PENDING
                and r.integration is not None
                and r.integration.last_checked <= checked_before
            ),
            key=lambda r: r.integration.last_checked if r.integration else 0,
        )
        return [r.id for r in due[:limit]]


def _review_match(q: ApprovalQuery, r: ApprovalRequest) -> bool:
    """``ApprovalQuery``'s review filters, straight from the domain."""
    scope = q.scope(r.project_key, r.environment_key, r.resource_kind.value)
    if q.unreviewed_by and q.unreviewed_by in r.current_verdicts():
        return False
    if q.reviewable_by and r.requestor_id == q.reviewable_by and not scope.own_review:
        return False
    if q.review_statuses:
        settings = ApprovalSettings(min_num_approvals=scope.min_approvals)
        return r.review_status(settings).value in q.review_statuses
    return True


class FakeMembers:
    def __init__(self, store: FakeStore) -> None:
        self.s = store

    def _with_teams(self, member: Member) -> Member:
        member = copy.deepcopy(member)
        member.team_keys = sorted(t.key for t in self.s.teams.values() if member.id in t.member_ids)
        member.team_role_keys = {k: list(self.s.teams[k].custom_role_keys) for k in member.team_keys}
        member.maintained_team_keys = sorted(t.key for t in self.s.teams.values() if member.id in t.maintainer_ids)
        return member

    def get(self, member_id: str) -> Member | None:
        member = self.s.members.get(member_id)
        return self._with_teams(member) if member else None

    def contacts(self, member_ids: Sequence[str]) -> dict[str, MemberContact]:
        found = (self.s.members.get(i) for i in member_ids)
        return {
            m.id: MemberContact(m.id, m.email, m.first_name, m.last_name, m.email_notifications) for m in found if m
        }

    def get_by_email(self, email: str) -> Member | None:
        found = [m for m in self.s.members.values() if m.email.lower() == email.strip().lower()]
        return self._with_teams(found[0]) if found else None

    def find(self, query: MemberQuery) -> tuple[list[Member], int]:
        items = [self._with_teams(m) for m in sorted(self.s.members.values(), key=lambda m: (m.creation_date, m.id))]
        items = [
            m
            for m in items
            if (not query.roles or m.role.value in query.roles)
            and (not query.query or query.query.lower() in f"{m.email} {m.first_name} {m.last_name}".lower())
            and (not query.team_key or query.team_key.lower() in [k.lower() for k in m.team_keys])
            and (not query.no_team or not m.team_keys)
        ]
        return _page(items, query.page), len(items)

    def lock_owners(self) -> None:
        pass  # one fake unit of work runs at a time: nothing to serialize

    def count_owners(self) -> int:
        return sum(1 for m in self.s.members.values() if m.role is Role.OWNER)

    def add(self, member: Member) -> None:
        self.s.members[member.id] = copy.deepcopy(member)

    update = add

    def delete(self, member: Member) -> None:
        self.s.members.pop(member.id, None)
        for team in self.s.teams.values():
            if member.id in team.member_ids:
                team.member_ids.remove(member.id)
            if member.id in team.maintainer_ids:
                team.maintainer_ids.remove(member.id)


class FakeTeams:
    def __init__(self, store: FakeStore) -> None:
        self.s = store

    def get(self, key: str, *, for_update: bool = False) -> Team | None:
        return copy.deepcopy(self.s.teams.get(key))

    def find(self, query: str | None, page: Page) -> tuple[list[Team], int]:
        items = sorted(
            (t for t in self.s.teams.values() if not query or query.lower() in (t.name + t.key).lower()),
            key=lambda t: t.key,
        )
        return copy.deepcopy(_page(items, page)), len(items)

    def add(self, team: Team) -> None:
        self.s.teams[team.key] = copy.deepcopy(team)

    update = add

    def delete(self, team: Team) -> None:
        self.s.teams.pop(team.key, None)


class FakeTokens:
    def __init__(self, store: FakeStore) -> None:
        self.s = store

    def get(self, token_id: str) -> AccessToken | None:
        return copy.deepcopy(self.s.tokens.get(token_id))

    def get_by_hash(self, token_hash: str) -> AccessToken | None:
        found = [t for t in self.s.tokens.values() if t.token_hash == token_hash]
        return copy.deepcopy(found[0]) if found else None

    def find(self, owner_id: str | None, page: Page) -> tuple[list[AccessToken], int]:
        items = sorted(
            (t for t in self.s.tokens.values() if owner_id is None or t.owner_id == owner_id),
            key=lambda t: (t.creation_date, t.id),
        )
        return copy.deepcopy(_page(items, page)), len(items)

    def add(self, token: AccessToken) -> None:
        self.s.tokens[token.id] = copy.deepcopy(token)

    update = add

    def delete(self, token: AccessToken) -> None:
        self.s.tokens.pop(token.id, None)

    def delete_for_member(self, member_id: str) -> None:
        for token in [t for t in self.s.tokens.values() if t.member_id == member_id and not t.service_token]:
            self.delete(token)


class FakeSessions:
    def __init__(self, store: FakeStore) -> None:
        self.s = store

    def add(self, session_hash: str, member_id: str, expires: int) -> None:
        self.s.sessions[session_hash] = (member_id, expires)

    def get_member_id(self, session_hash: str, now: int) -> str | None:
        found = self.s.sessions.get(session_hash)
        return found[0] if found and found[1] > now else None

    def delete(self, session_hash: str) -> None:
        self.s.sessions.pop(session_hash, None)

    def delete_for_member(self, member_id: str) -> None:
        for key in [k for k, (m, _) in self.s.sessions.items() if m == member_id]:
            del self.s.sessions[key]


class FakeInvitations:
    def __init__(self, store: FakeStore) -> None:
        self.s = store

    def add(self, token_hash: str, member_id: str, expires: int, created_at: int) -> None:
        self.s.invitations[token_hash] = (member_id, expires)

    def member_id(self, token_hash: str, now: int) -> str | None:
        found = self.s.invitations.get(token_hash)
        return found[0] if found and found[1] > now else None

    def take(self, token_hash: str, now: int) -> str | None:
        found = self.s.invitations.pop(token_hash, None)
        return found[0] if found and found[1] > now else None

    def pending(self, now: int) -> dict[str, int]:
        result: dict[str, int] = {}
        for member_id, expires in self.s.invitations.values():
            if expires > now:
                result[member_id] = max(expires, result.get(member_id, 0))
        return result

    def delete_for_member(self, member_id: str) -> None:
        for key in [k for k, (m, _) in self.s.invitations.items() if m == member_id]:
            del self.s.invitations[key]


class FakeRateCounters:
    def __init__(self, store: FakeStore) -> None:
        self.s = store

    def spend(self, key: str, now: int, window_ms: int) -> tuple[int, int]:
        count, resets_at = self.s.rate_counters.get(key, (0, 0))
        if resets_at <= now:
            count, resets_at = 0, now + window_ms
        self.s.rate_counters[key] = (count + 1, resets_at)
        return count + 1, resets_at

    def refund(self, key: str) -> None:
        if key in self.s.rate_counters:
            count, resets_at = self.s.rate_counters[key]
            self.s.rate_counters[key] = (max(0, count - 1), resets_at)

    def clear(self, key: str) -> None:
        self.s.rate_counters.pop(key, None)

    def prune(self, now: int, limit: int = 1000) -> int:
        expired = sorted(k for k, (_, resets_at) in self.s.rate_counters.items() if resets_at <= now)[:limit]
        for key in expired:
            del self.s.rate_counters[key]
        return len(expired)


class FakeAuditLog:
    def __init__(self, store: FakeStore) -> None:
        self.s = store

    def append(self, entry: AuditEntry, then: Callable[[AuditEntry], None] | None = None) -> None:
        entry.seq = len(self.s.audit) + 1
        previous = self.s.audit[-1] if self.s.audit else None
        seal(
            entry,
            prev_hash=previous.hash if previous else GENESIS_HASH,
            prev_id=previous.id if previous else None,
            prev_date=previous.date if previous else None,
        )
        self.s.audit.append(copy.deepcopy(entry))
        if then is not None:
            then(entry)

    def get(self, entry_id: str) -> AuditEntry | None:
        found = [e for e in self.s.audit if e.id == entry_id]
        return copy.deepcopy(found[0]) if found else None

    def find(self, query: AuditQuery) -> list[AuditEntry]:
        items = [
            e
            for e in reversed(self.s.audit)
            if (query.before is None or e.date < query.before)
            and (query.after is None or e.date > query.after)
            and (not query.q or query.q.lower() in repr(e.content()).lower())
            and (not query.spec or any(spec_matches(query.spec, r) for r in e.resources()))
            and (not query.member_id or e.actor.member_id == query.member_id)
            and (not query.statements or e.matches(query.statements))
        ]
        return copy.deepcopy(items[: query.limit])


class FakeMeta:
    def __init__(self, store: FakeStore) -> None:
        self.s = store

    def account_id(self) -> str:
        return self.s.meta.setdefault("account_id", "0" * 24)

    def accounts_generation(self) -> str | None:
        return None  # the fakes keep no generation: nothing is cached over them


class FakeOutbox:
    def __init__(self, store: FakeStore) -> None:
        self.s = store

    def add(self, message: NewMessage, *, now: int) -> str:
        seq = len(self.s.outbox) + 1
        self.s.outbox.append(
            OutboxMessage(
                id=f"m{seq:031d}",
                seq=seq,
                kind=message.kind,
                payload=copy.deepcopy(message.payload),
                created_at=now,
                next_attempt_at=now,
                target=message.target,
                ordering_key=message.ordering_key,
            )
        )
        return self.s.outbox[-1].id

    def _due(self, m: OutboxMessage, now: int, kinds: Collection[str]) -> bool:
        blocked = m.ordering_key is not None and any(
            e.ordering_key == m.ordering_key and e.seq < m.seq and e.status is MessageStatus.PENDING
            for e in self.s.outbox
        )
        leased = m.lease_until is not None and m.lease_until > now
        return (
            m.status is MessageStatus.PENDING and m.next_attempt_at <= now and m.kind in kinds and not leased
        ) and not blocked

    def claim(self, *, now: int, owner: str, lease_ms: int, limit: int, kinds: Collection[str]) -> list[OutboxMessage]:
        due = sorted((m for m in self.s.outbox if self._due(m, now, kinds)), key=lambda m: (m.next_attempt_at, m.seq))
        for m in due[:limit]:
            m.lease_owner, m.lease_until, m.attempts = owner, now + lease_ms, m.attempts + 1
        return copy.deepcopy(due[:limit])

    def _owned(self, message_id: str, owner: str) -> OutboxMessage | None:
        found = [m for m in self.s.outbox if m.id == message_id]
        ok = found and found[0].lease_owner == owner and found[0].status is MessageStatus.PENDING
        return found[0] if ok else None

    def succeeded(self, message_id: str, *, owner: str, now: int, status_code: int | None = None) -> bool:
        m = self._owned(message_id, owner)
        if m is None:
            return False
        m.status, m.delivered_at, m.lease_owner, m.lease_until = MessageStatus.SENT, now, None, None
        m.last_status_code = status_code
        return True

    def failed(self, message_id: str, *, owner: str, failure: Failure, retry_at: int | None) -> bool:
        m = self._owned(message_id, owner)
        if m is None:
            return False
        m.lease_owner, m.lease_until, m.last_error, m.last_status_code = None, None, failure.error, failure.status_code
        if retry_at is None:
            m.status = MessageStatus.DEAD
        else:
            m.next_attempt_at = retry_at
        return True

    def release_leases(self, owner: str | None = None) -> int:
        leased = [
            m
            for m in self.s.outbox
            if m.status is MessageStatus.PENDING and m.lease_until is not None and owner in (None, m.lease_owner)
        ]
        for m in leased:
            m.lease_owner = m.lease_until = None
        return len(leased)

    def get(self, message_id: str) -> OutboxMessage | None:
        return copy.deepcopy(next((m for m in self.s.outbox if m.id == message_id), None))

    def find(self, query: OutboxQuery) -> tuple[list[OutboxMessage], int]:
        items = [
            m
            for m in reversed(self.s.outbox)
            if (query.kind is None or m.kind == query.kind)
            and (query.target is None or m.target == query.target)
            and (not query.statuses or m.status.value in query.statuses)
        ]
        return copy.deepcopy(_page(items, query.page)), len(items)

    def stats(self, now: int) -> OutboxStats:
        pending = [m for m in self.s.outbox if m.status is MessageStatus.PENDING]
        due = [m for m in pending if m.next_attempt_at <= now]
        return OutboxStats(
            pending=len(pending),
            due=len(due),
            retrying=sum(1 for m in pending if m.attempts > 0),
            dead=sum(1 for m in self.s.outbox if m.status is MessageStatus.DEAD),
            oldest_due_ms=max(0, now - min(m.next_attempt_at for m in due)) if due else None,
        )


class FakeNotifications:
    def __init__(self, store: FakeStore) -> None:
        self.s = store

    def add(self, notification: Notification) -> None:
        self.s.notifications.append(copy.deepcopy(notification))

    def _mine(self, member_id: str, unread_only: bool) -> list[Notification]:
        items = [n for n in self.s.notifications if n.member_id == member_id and not (unread_only and n.read_at)]
        return sorted(items, key=lambda n: (n.created_at, n.id), reverse=True)

    def find(self, member_id: str, *, unread_only: bool, page: Page) -> tuple[list[Notification], int]:
        items = self._mine(member_id, unread_only)
        return copy.deepcopy(_page(items, page)), len(items)

    def unread_count(self, member_id: str) -> int:
        return len(self._mine(member_id, True))

    def mark_read(self, member_id: str, ids: Collection[str] | None, *, now: int) -> int:
        marked = [n for n in self._mine(member_id, True) if ids is None or n.id in ids]
        for n in marked:
            n.read_at = now
        return len(marked)


class FakeWebhooks:
    def __init__(self, store: FakeStore) -> None:
        self.s = store

    def get(self, webhook_id: str, *, for_update: bool = False) -> Webhook | None:
        return copy.deepcopy(self.s.webhooks.get(webhook_id))

    def list_all(self) -> list[Webhook]:
        return copy.deepcopy(sorted(self.s.webhooks.values(), key=lambda w: (w.creation_date, w.id)))

    def add(self, webhook: Webhook) -> None:
        self.s.webhooks[webhook.id] = copy.deepcopy(webhook)

    def update(self, webhook: Webhook) -> None:
        self.s.webhooks[webhook.id] = copy.deepcopy(webhook)

    def delete(self, webhook: Webhook) -> None:
        self.s.webhooks.pop(webhook.id, None)


class FakeScheduledChanges:
    def __init__(self, store: FakeStore) -> None:
        self.s = store

    def get(self, change_id: str, *, for_update: bool = False) -> ScheduledChange | None:
        return copy.deepcopy(self.s.scheduled_changes.get(change_id))

    def for_flag(
        self, project_key: str, env_key: str | None, flag_key: str, *, pending_only: bool = False
    ) -> list[ScheduledChange]:
        found = [
            c
            for c in self.s.scheduled_changes.values()
            if (c.project_key, c.flag_key) == (project_key, flag_key)
            and env_key in (None, c.environment_key)
            and (c.is_pending or not pending_only)
        ]
        return copy.deepcopy(sorted(found, key=lambda c: (c.execution_date, c.creation_date, c.id)))

    def add(self, change: ScheduledChange) -> None:
        self.s.scheduled_changes[change.id] = copy.deepcopy(change)

    update = add

    def delete(self, change: ScheduledChange) -> None:
        self.s.scheduled_changes.pop(change.id, None)

    def due(self, now: int, limit: int = 20) -> list[str]:
        found = [
            c
            for c in self.s.scheduled_changes.values()
            if c.status is ScheduleStatus.PENDING and c.execution_date <= now
        ]
        return [c.id for c in sorted(found, key=lambda c: (c.execution_date, c.creation_date))][:limit]


class FakeExpiringTargets:
    def __init__(self, store: FakeStore) -> None:
        self.s = store

    def get(self, target_id: str, *, for_update: bool = False) -> ExpiringTarget | None:
        return copy.deepcopy(self.s.expiring_targets.get(target_id))

    def for_resource(self, project_key: str, env_key: str, kind: str, key: str) -> list[ExpiringTarget]:
        found = [
            t
            for t in self.s.expiring_targets.values()
            if (t.project_key, t.environment_key, t.resource_kind, t.resource_key) == (project_key, env_key, kind, key)
        ]
        return copy.deepcopy(sorted(found, key=lambda t: (t.expiration_date, t.id)))

    def add(self, target: ExpiringTarget) -> None:
        self.s.expiring_targets[target.id] = copy.deepcopy(target)

    update = add

    def delete(self, target: ExpiringTarget) -> None:
        self.s.expiring_targets.pop(target.id, None)

    def due(self, now: int, limit: int = 20) -> list[str]:
        found = [t for t in self.s.expiring_targets.values() if not t.failure_reason and t.expiration_date <= now]
        return [t.id for t in sorted(found, key=lambda t: t.expiration_date)][:limit]


class FakeTriggers:
    def __init__(self, store: FakeStore) -> None:
        self.s = store

    def list_for(self, project_key: str, flag_key: str, env_key: str) -> list[Trigger]:
        mine = [
            t
            for t in self.s.triggers.values()
            if (t.project_key, t.flag_key, t.environment_key) == (project_key, flag_key, env_key)
        ]
        return sorted(mine, key=lambda t: (t.creation_date, t.id))

    def get(self, trigger_id: str, *, for_update: bool = False) -> Trigger | None:
        return self.s.triggers.get(trigger_id)

    def find_by_secret(self, secret_hash: str, *, for_update: bool = False) -> Trigger | None:
        return next((t for t in self.s.triggers.values() if t.secret_hash == secret_hash), None)

    def add(self, trigger: Trigger) -> None:
        self.s.triggers[trigger.id] = trigger

    def update(self, trigger: Trigger) -> None:
        self.s.triggers[trigger.id] = trigger

    def delete(self, trigger: Trigger) -> None:
        self.s.triggers.pop(trigger.id, None)


class FakeRoles:
    """Assignments are the members' ``custom_role_ids`` and the teams' ``custom_role_keys``."""

    def __init__(self, store: FakeStore) -> None:
        self.s = store

    def get(self, key_or_id: str, *, for_update: bool = False) -> CustomRole | None:
        by_key = [r for r in self.s.roles.values() if r.key == key_or_id]
        return copy.deepcopy(by_key[0] if by_key else self.s.roles.get(key_or_id))

    def resolve(self, keys_or_ids: Collection[str]) -> dict[str, CustomRole]:
        names = set(keys_or_ids)
        return {n: copy.deepcopy(r) for r in self.s.roles.values() for n in (r.key, r.id) if n in names}

    def find(self, page: Page) -> tuple[list[CustomRole], int]:
        items = sorted(self.s.roles.values(), key=lambda r: r.key)
        return copy.deepcopy(_page(items, page)), len(items)

    def holders(self, role_id: str) -> RoleHolders:
        role = self.s.roles[role_id]
        members = sorted(m.id for m in self.s.members.values() if role_id in m.custom_role_ids)
        teams = sorted(t.key for t in self.s.teams.values() if role.key in t.custom_role_keys)
        return RoleHolders(member_ids=tuple(members), team_keys=tuple(teams))

    def add(self, role: CustomRole) -> None:
        self.s.roles[role.id] = copy.deepcopy(role)

    update = add

    def delete(self, role: CustomRole) -> None:
        self.s.roles.pop(role.id, None)
        for member in self.s.members.values():
            member.custom_role_ids = [i for i in member.custom_role_ids if i != role.id]
        for team in self.s.teams.values():
            team.custom_role_keys = [k for k in team.custom_role_keys if k != role.key]


class FakeWorkflows:
    def __init__(self, store: FakeStore) -> None:
        self.s = store

    def get(self, workflow_id: str, *, for_update: bool = False) -> Workflow | None:
        return copy.deepcopy(self.s.workflows.get(workflow_id))

    def find(
        self, project_key: str, flag_key: str, env_key: str, *, status: str | None, sort: str, page: Page
    ) -> tuple[list[Workflow], int]:
        found = [
            w
            for w in self.s.workflows.values()
            if (w.project_key, w.flag_key, w.environment_key) == (project_key, flag_key, env_key)
            and (status is None or w.status.value == status)
        ]
        found.sort(key=lambda w: (w.creation_date, w.id), reverse=sort.startswith("-"))
        return copy.deepcopy(found[page.offset : page.offset + page.limit]), len(found)

    def add(self, workflow: Workflow) -> None:
        self.s.workflows[workflow.id] = copy.deepcopy(workflow)

    def update(self, workflow: Workflow) -> None:
        self.s.workflows[workflow.id] = copy.deepcopy(workflow)

    def delete(self, workflow: Workflow) -> None:
        self.s.workflows.pop(workflow.id, None)

    def due(self, now: int, limit: int = 20) -> list[str]:
        due = [
            w
            for w in self.s.workflows.values()
            if w.status is ExecutionStatus.ACTIVE and (w.wake_at() is not None and w.wake_at() <= now)  # type: ignore[operator]
        ]
        return [w.id for w in sorted(due, key=lambda w: w.wake_at() or 0)[:limit]]


class FakeWorkflowTemplates:
    def __init__(self, store: FakeStore) -> None:
        self.s = store

    def get(self, key: str) -> Template | None:
        return copy.deepcopy(self.s.workflow_templates.get(key))

    def list_all(self) -> list[Template]:
        return copy.deepcopy(sorted(self.s.workflow_templates.values(), key=lambda t: (t.creation_date, t.id)))

    def add(self, template: Template) -> None:
        self.s.workflow_templates[template.key] = copy.deepcopy(template)

    def delete(self, template: Template) -> None:
        self.s.workflow_templates.pop(template.key, None)


class FakeUnitOfWork:
    def __init__(self, shared: FakeStore, broker: RecordingBroker) -> None:
        self._shared = shared
        self._broker = broker
        self._events: list[Event] = []
        self.committed = False

    def __enter__(self) -> Self:
        self._work = copy.deepcopy(self._shared)
        store = self._work
        self.projects = FakeProjects(store)
        self.environments = FakeEnvironments(store)
        self.flags = FakeFlags(store)
        self.segments = FakeSegments(store)
        self.tombstones = FakeTombstones(store)
        self.flag_usage = FakeFlagUsage(store)
        self.approvals = FakeApprovals(store)
        self.members = FakeMembers(store)
        self.teams = FakeTeams(store)
        self.tokens = FakeTokens(store)
        self.sessions = FakeSessions(store)
        self.invitations = FakeInvitations(store)
        self.rate_counters = FakeRateCounters(store)
        self.audit = FakeAuditLog(store)
        self.meta = FakeMeta(store)
        self.outbox = FakeOutbox(store)
        self.notifications = FakeNotifications(store)
        self.webhooks = FakeWebhooks(store)
        self.scheduled_changes = FakeScheduledChanges(store)
        self.expiring_targets = FakeExpiringTargets(store)
        self.triggers = FakeTriggers(store)
        self.roles = FakeRoles(store)
        self.workflows = FakeWorkflows(store)
        self.workflow_templates = FakeWorkflowTemplates(store)
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.rollback()

    def commit(self) -> None:
        self._shared.__dict__.update(copy.deepcopy(self._work).__dict__)
        self.committed = True
        events, self._events = self._events, []
        if events:
            self._broker.publish(events)

    def rollback(self) -> None:
        self._work = copy.deepcopy(self._shared)
        self._events.clear()

    def publish(self, event: Event) -> None:
        self._events.append(event)


class FakeUnitOfWorkFactory:
    def __init__(self) -> None:
        self.store = FakeStore()
        self.broker = RecordingBroker()

    def __call__(self, *, write: bool = True) -> FakeUnitOfWork:
        return FakeUnitOfWork(self.store, self.broker)

    def accounts_generation(self) -> str | None:
        return FakeMeta(self.store).accounts_generation()


def fake_deps() -> tuple[Deps, FakeUnitOfWorkFactory, FrozenClock]:
    factory = FakeUnitOfWorkFactory()
    clock = FrozenClock()
    return Deps(uow=factory, clock=clock, passwords=PlainHasher()), factory, clock
