"""The ports the services depend on. Storage and streaming implement them; tests/fakes.py fakes them."""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Protocol, Self

from flagward.domain.accounts import AccessToken, Member, MemberContact, Team
from flagward.domain.approvals import ApprovalRequest
from flagward.domain.audit import AuditEntry
from flagward.domain.audit_chain import ChainBreak
from flagward.domain.events import Event
from flagward.domain.expiring_targets import ExpiringTarget
from flagward.domain.flag_statuses import EvaluationTally, FlagUsage
from flagward.domain.flags import Flag, FlagConfig
from flagward.domain.notifications import Notification
from flagward.domain.outbox import Failure, NewMessage, OutboxMessage, OutboxStats
from flagward.domain.policy import Statement
from flagward.domain.projects import Environment, Project
from flagward.domain.roles import CustomRole, RoleHolders
from flagward.domain.scheduled_changes import ScheduledChange
from flagward.domain.segments import Segment
from flagward.domain.triggers import Trigger
from flagward.domain.webhooks import Webhook
from flagward.domain.workflows import Template, Workflow
from flagward.services.actor_cache import ActorCache


class StoreUnavailable(Exception):
    """The database could not be reached (a 503 at the edge, never a 500)."""


class Clock(Protocol):
    def now_ms(self) -> int: ...


@dataclass(frozen=True)
class Page:
    limit: int = 20
    offset: int = 0


@dataclass(frozen=True)
class ProjectQuery:
    query: str | None = None
    tags: tuple[str, ...] = ()
    sort: str = "name"  # name | -name | creationDate | -creationDate
    page: Page = field(default_factory=Page)


@dataclass(frozen=True)
class FlagQuery:
    query: str | None = None
    tags: tuple[str, ...] = ()
    archived: bool | None = False  # None: both
    sort: str = "creationDate"  # name | creationDate | key, '-' prefix for descending
    page: Page = field(default_factory=Page)


@dataclass(frozen=True)
class MemberQuery:
    roles: tuple[str, ...] = ()
    query: str | None = None
    team_key: str | None = None
    no_team: bool = False
    page: Page = field(default_factory=Page)


class ProjectLockTooWeak(Exception):
    """A transaction that holds its project's shared lock (``ProjectRepository.lock_shared``) went on to
    need the exclusive one: it asked for it, or read rows of the project that only the exclusive lock
    keeps still. Not an error of the caller's: ``services._common.shares_project_locks`` catches it and
    runs the use case again, locking the project exclusively from the start."""


class ProjectRepository(Protocol):
    def get(self, key: str, *, for_update: bool = False) -> Project | None:
        """The project; ``for_update`` locks it exclusively until commit: against every writer that locks
        it, shared or exclusively. Raises ProjectLockTooWeak if this transaction holds it shared."""
        ...

    def lock_shared(self, key: str) -> Project | None:
        """The project, locked until commit against the writers that lock it exclusively (``get`` with
        ``for_update``) but not against the others that lock it shared: for a write of one flag that
        reads no other row of the project. Where writers already run one at a time (SQLite) this is
        ``get``, and the lock is no weaker than an exclusive one (``held_shared`` is False)."""
        ...

    def held_shared(self, key: str) -> bool:
        """Whether this transaction holds ``key`` locked shared, not exclusively."""
        ...

    def find(self, query: ProjectQuery) -> tuple[list[Project], int]: ...
    def add(self, project: Project) -> None: ...
    def update(self, project: Project) -> None: ...
    def delete(self, project: Project) -> None: ...


class EnvironmentRepository(Protocol):
    def get(self, project_key: str, key: str, *, for_update: bool = False) -> Environment | None: ...
    def get_by_id(self, environment_id: str) -> Environment | None: ...
    def get_by_credential(self, credential: str) -> Environment | None:
        """The environment whose SDK key or mobile key is ``credential``."""
        ...

    def find(self, project_key: str, page: Page | None = None) -> tuple[list[Environment], int]: ...
    def add(self, environment: Environment) -> None: ...
    def update(self, environment: Environment) -> None: ...
    def delete(self, environment: Environment) -> None: ...


class FlagRepository(Protocol):
    def get(self, project_key: str, key: str, *, for_update: bool = False, for_share: bool = False) -> Flag | None:
        """The flag with every environment's configuration; ``for_update`` locks it until commit;
        ``for_share`` keeps it from being deleted (or its key changed) until commit, and lets other
        writers of the project through."""
        ...

    def find(self, project_key: str, query: FlagQuery) -> tuple[list[Flag], int]: ...
    def list_all(self, project_key: str) -> list[Flag]: ...
    def tags(self, project_key: str) -> list[str]:
        """Every tag the project's flags carry, sorted."""
        ...

    def list_for_environment(self, project_key: str, env_key: str) -> list[Flag]:
        """Every flag of the project, each with only ``env_key``'s configuration (SDK payloads)."""
        ...

    def add(self, flag: Flag) -> None: ...
    def update(self, flag: Flag, *, environments: Iterable[str] = ()) -> None:
        """Persist the project-level fields and the configurations of ``environments``."""
        ...

    def delete(self, flag: Flag) -> None: ...
    def add_environment(self, project_key: str, env_key: str, configs: dict[str, FlagConfig]) -> None:
        """Store configurations (by flag key) for a new environment."""
        ...


class SegmentRepository(Protocol):
    def get(self, project_key: str, env_key: str, key: str, *, for_update: bool = False) -> Segment | None: ...
    def find(
        self, project_key: str, env_key: str, query: str | None, page: Page | None
    ) -> tuple[list[Segment], int]: ...
    def keys(self, project_key: str, env_key: str) -> set[str]: ...
    def add(self, segment: Segment) -> None: ...
    def update(self, segment: Segment) -> None: ...
    def delete(self, segment: Segment) -> None: ...


class Tombstones(Protocol):
    """The last version of each deleted flag or segment, per environment and kind."""

    def version(self, environment_id: str, kind: str, key: str) -> int: ...
    def record(self, environment_id: str, kind: str, key: str, version: int) -> None: ...
    def for_environment(self, environment_id: str) -> dict[tuple[str, str], int]: ...


class FlagUsageRepository(Protocol):
    """What SDK summary events told about flag use, per environment and flag key."""

    def add(self, tallies: Sequence[EvaluationTally]) -> None:
        """Merge evaluations observed by one process into what is stored (concurrent callers are fine)."""
        ...

    def for_environment(
        self, environment_id: str, *, since_day: int, flag_key: str | None = None
    ) -> dict[str, FlagUsage]:
        """Usage by flag key (only ``flag_key``'s if given), with counts from ``since_day`` on."""
        ...

    def daily_counts(self, environment_id: str, flag_key: str, *, since_day: int) -> dict[int, dict[int, int]]:
        """One flag's evaluation counts by day number (days since the epoch, UTC), then by variation index
        (``DEFAULT_VARIATION`` for the application's default), from ``since_day`` on."""
        ...

    def prune(self, *, before_day: int) -> None: ...


@dataclass(frozen=True)
class ReviewScope:
    """The approval settings of one (project, environment, resource kind) that the store needs to filter
    requests by review: ``min_approvals`` and whether requesters may review their own requests there."""

    project_key: str
    environment_key: str
    resource_kind: str
    min_approvals: int = 1
    own_review: bool = False


@dataclass(frozen=True)
class ApprovalQuery:
    """Requests matching every given field. The review filters read the requests' current verdicts
    (``ApprovalRequest.current_verdicts``) and, per environment, ``scopes`` (absent: the defaults):

    - ``unreviewed_by``: that member has no current approve or decline;
    - ``reviewable_by``: that member did not make the request, or the scope allows own review;
    - ``review_statuses``: ``ApprovalRequest.review_status`` under the scope's ``min_approvals``.
    """

    project_key: str | None = None
    environment_key: str | None = None
    resource_kind: str | None = None
    resource_key: str | None = None
    requestor_id: str | None = None
    statuses: tuple[str, ...] = ()
    notify_member_ids: tuple[str, ...] = ()
    unreviewed_by: str | None = None
    reviewable_by: str | None = None
    review_statuses: tuple[str, ...] = ()
    scopes: tuple[ReviewScope, ...] = ()
    page: Page | None = None  # None: every match

    def scope(self, project_key: str, environment_key: str, resource_kind: str) -> ReviewScope:
        for scope in self.scopes:
            if (scope.project_key, scope.environment_key, scope.resource_kind) == (
                project_key,
                environment_key,
                resource_kind,
            ):
                return scope
        return ReviewScope(project_key, environment_key, resource_kind)


class ApprovalRepository(Protocol):
    def get(self, request_id: str, *, for_update: bool = False) -> ApprovalRequest | None: ...
    def add(self, request: ApprovalRequest, *, environment: Environment | None = None) -> None:
        """``environment``: the request's, as read in this transaction (the store need not look it up)."""
        ...

    def update(self, request: ApprovalRequest) -> None: ...
    def delete(self, request: ApprovalRequest) -> None: ...
    def open_for(self, project_key: str, env_key: str | None, kind: str, key: str) -> list[ApprovalRequest]:
        """Pending and scheduled requests on one resource."""
        ...

    def for_resource(self, project_key: str, env_key: str, kind: str, key: str) -> list[ApprovalRequest]: ...
    def delete_for_resource(self, project_key: str, kind: str, key: str) -> None: ...
    def find(self, query: ApprovalQuery) -> tuple[list[ApprovalRequest], int]: ...
    def due(self, now: int, limit: int = 20) -> list[str]:
        """Ids of scheduled requests due at ``now``, locked for this transaction."""
        ...

    def due_for_check(self, checked_before: int, limit: int = 20) -> list[str]:
        """Ids of pending requests linked to an external record last checked at or before
        ``checked_before`` (oldest first), locked for this transaction (others' locked rows skipped)."""
        ...


class ScheduledChangeRepository(Protocol):
    def get(self, change_id: str, *, for_update: bool = False) -> ScheduledChange | None: ...
    def for_flag(
        self, project_key: str, env_key: str | None, flag_key: str, *, pending_only: bool = False
    ) -> list[ScheduledChange]:
        """A flag's changes in one environment (None: all), earliest execution date first."""
        ...

    def add(self, change: ScheduledChange) -> None: ...
    def update(self, change: ScheduledChange) -> None: ...
    def delete(self, change: ScheduledChange) -> None: ...
    def due(self, now: int, limit: int = 20) -> list[str]:
        """Ids of pending changes due at ``now``, locked for this transaction (others' locked rows skipped)."""
        ...


class ExpiringTargetRepository(Protocol):
    def get(self, target_id: str, *, for_update: bool = False) -> ExpiringTarget | None: ...
    def for_resource(self, project_key: str, env_key: str, kind: str, key: str) -> list[ExpiringTarget]:
        """Soonest first."""
        ...

    def add(self, target: ExpiringTarget) -> None: ...
    def update(self, target: ExpiringTarget) -> None: ...
    def delete(self, target: ExpiringTarget) -> None: ...
    def due(self, now: int, limit: int = 20) -> list[str]:
        """Ids of pending expiries due at ``now``, locked for this transaction (others' locked rows skipped)."""
        ...


class MemberRepository(Protocol):
    def get(self, member_id: str) -> Member | None: ...
    def contacts(self, member_ids: Sequence[str]) -> dict[str, MemberContact]:
        """The members of ``member_ids`` that exist, by id, without their teams and roles (one read)."""
        ...

    def get_by_email(self, email: str) -> Member | None: ...
    def find(self, query: MemberQuery) -> tuple[list[Member], int]: ...
    def lock_owners(self) -> None:
        """Hold the account's owner set until commit: whoever checks or changes who owns the account
        (demoting or removing an owner, the first start) takes it before reading members."""
        ...

    def count_owners(self) -> int: ...
    def add(self, member: Member) -> None: ...
    def update(self, member: Member) -> None: ...
    def delete(self, member: Member) -> None: ...


class TeamRepository(Protocol):
    def get(self, key: str, *, for_update: bool = False) -> Team | None:
        """The team with its member ids; ``for_update`` locks it (and so its membership) until commit."""
        ...

    def find(self, query: str | None, page: Page) -> tuple[list[Team], int]: ...
    def add(self, team: Team) -> None: ...
    def update(self, team: Team) -> None: ...
    def delete(self, team: Team) -> None: ...


class TokenRepository(Protocol):
    def get(self, token_id: str) -> AccessToken | None: ...
    def get_by_hash(self, token_hash: str) -> AccessToken | None: ...
    def find(self, owner_id: str | None, page: Page) -> tuple[list[AccessToken], int]: ...
    def add(self, token: AccessToken) -> None: ...
    def update(self, token: AccessToken) -> None: ...
    def delete(self, token: AccessToken) -> None: ...
    def delete_for_member(self, member_id: str) -> None: ...


class SessionRepository(Protocol):
    def add(self, session_hash: str, member_id: str, expires: int) -> None: ...
    def get_member_id(self, session_hash: str, now: int) -> str | None: ...
    def delete(self, session_hash: str) -> None: ...
    def delete_for_member(self, member_id: str) -> None: ...


class InvitationRepository(Protocol):
    """One-time links to set a member's password, by the SHA-256 of their token."""

    def add(self, token_hash: str, member_id: str, expires: int, created_at: int) -> None: ...
    def member_id(self, token_hash: str, now: int) -> str | None: ...
    def take(self, token_hash: str, now: int) -> str | None:
        """The member of a live link, which is deleted (single use); None if unknown, used or expired."""
        ...

    def pending(self, now: int) -> dict[str, int]:
        """Member id -> when their latest live link expires."""
        ...

    def delete_for_member(self, member_id: str) -> None: ...


class RateCounters(Protocol):
    """Counters of rate-limit budgets (``flagward.domain.rate_limits``), shared by every process.

    A counter changed in a transaction is locked until it ends (on PostgreSQL), so transactions that
    change several counters must change them in key order."""

    def spend(self, key: str, now: int, window_ms: int) -> tuple[int, int]:
        """Count one event atomically and return ``(count, resets_at)`` including it. A counter whose
        window ended (``resets_at <= now``) starts over at 1 with a window ending ``now + window_ms``."""
        ...

    def refund(self, key: str) -> None:
        """Take one event back (never below zero)."""
        ...

    def clear(self, key: str) -> None: ...
    def prune(self, now: int, limit: int = 1000) -> int:
        """Delete up to ``limit`` counters whose window has ended; returns how many."""
        ...


@dataclass(frozen=True)
class AuditQuery:
    before: int | None = None
    after: int | None = None
    q: str | None = None
    spec: str | None = None
    member_id: str | None = None  # entries whose actor is this member
    limit: int = 10
    statements: tuple[Statement, ...] = ()  # entries one of whose accesses these allow (none: every entry)


@dataclass(frozen=True)
class ChainReport:
    """The audit hash chain verified at ``checked_at``: how many entries, and every problem found."""

    checked: int
    breaks: list[ChainBreak]
    checked_at: int

    @property
    def intact(self) -> bool:
        return not self.breaks


class AuditChainCheck(Protocol):
    def __call__(self) -> ChainReport:
        """Verify the stored chain as ``flagward audit verify`` does (without anchors)."""
        ...


class AuditLog(Protocol):
    def append(self, entry: AuditEntry, then: Callable[[AuditEntry], None] | None = None) -> None:
        """Store ``entry`` in the caller's transaction: it is linked to the chain head (its ``seq``, date
        and hash set) when the transaction commits, and then ``then`` runs with it, still in the
        transaction. Nothing is stored if it rolls back."""
        ...

    def get(self, entry_id: str) -> AuditEntry | None: ...
    def find(self, query: AuditQuery) -> list[AuditEntry]: ...


@dataclass(frozen=True)
class OutboxQuery:
    kind: str | None = None
    target: str | None = None
    statuses: tuple[str, ...] = ()
    page: Page = field(default_factory=Page)


class Outbox(Protocol):
    """The transactional outbox (``flagward.domain.outbox``). Services ``add`` in their unit of work;
    the dispatcher claims and records outcomes, each in a short transaction of its own."""

    def add(self, message: NewMessage, *, now: int) -> str:
        """Store ``message`` in the caller's transaction (nothing is sent if it rolls back); its id."""
        ...

    def claim(self, *, now: int, owner: str, lease_ms: int, limit: int, kinds: Collection[str]) -> list[OutboxMessage]:
        """Lease up to ``limit`` due messages of ``kinds`` to ``owner`` until ``now + lease_ms``, counting the
        attempt. Concurrent claimers never get the same message while a lease runs."""
        ...

    def succeeded(self, message_id: str, *, owner: str, now: int, status_code: int | None = None) -> bool:
        """Mark it sent, if ``owner`` still holds its lease (False: the lease was lost; nothing changes)."""
        ...

    def failed(self, message_id: str, *, owner: str, failure: Failure, retry_at: int | None) -> bool:
        """Record the failure and retry at ``retry_at`` (None: the message is dead), if ``owner`` holds it."""
        ...

    def release_leases(self, owner: str | None = None) -> int:
        """End every running lease, or only ``owner``'s."""
        ...

    def get(self, message_id: str) -> OutboxMessage | None: ...
    def find(self, query: OutboxQuery) -> tuple[list[OutboxMessage], int]:
        """Newest first (a delivery log)."""
        ...

    def stats(self, now: int) -> OutboxStats: ...


class NotificationRepository(Protocol):
    def add(self, notification: Notification) -> None: ...
    def find(self, member_id: str, *, unread_only: bool, page: Page) -> tuple[list[Notification], int]:
        """Newest first."""
        ...

    def unread_count(self, member_id: str) -> int: ...
    def mark_read(self, member_id: str, ids: Collection[str] | None, *, now: int) -> int:
        """Mark ``ids`` (None: all) of the member's unread notifications read; how many were."""
        ...


class WebhookRepository(Protocol):
    def get(self, webhook_id: str, *, for_update: bool = False) -> Webhook | None: ...
    def list_all(self) -> list[Webhook]:
        """Oldest first."""
        ...

    def add(self, webhook: Webhook) -> None: ...
    def update(self, webhook: Webhook) -> None: ...
    def delete(self, webhook: Webhook) -> None: ...


class TriggerRepository(Protocol):
    """Flag triggers (``domain.triggers``); a trigger goes when its flag or environment is deleted."""

    def list_for(self, project_key: str, flag_key: str, env_key: str) -> list[Trigger]:
        """Oldest first."""
        ...

    def get(self, trigger_id: str, *, for_update: bool = False) -> Trigger | None: ...
    def find_by_secret(self, secret_hash: str, *, for_update: bool = False) -> Trigger | None:
        """The trigger whose secret has this digest; ``for_update`` locks its row until the transaction
        ends (concurrent firings of one trigger wait for each other)."""
        ...

    def add(self, trigger: Trigger) -> None:
        """Its flag and environment must exist."""
        ...

    def update(self, trigger: Trigger) -> None: ...
    def delete(self, trigger: Trigger) -> None: ...


class CustomRoleRepository(Protocol):
    def get(self, key_or_id: str, *, for_update: bool = False) -> CustomRole | None:
        """The role with this key, else the one with this id."""
        ...

    def resolve(self, keys_or_ids: Collection[str]) -> dict[str, CustomRole]:
        """Each of ``keys_or_ids`` that names a role (by key or id), to that role."""
        ...

    def find(self, page: Page) -> tuple[list[CustomRole], int]:
        """In key order."""
        ...

    def holders(self, role_id: str) -> RoleHolders: ...
    def add(self, role: CustomRole) -> None: ...
    def update(self, role: CustomRole) -> None: ...
    def delete(self, role: CustomRole) -> None:
        """The role and its assignments to members and teams."""
        ...


class WorkflowRepository(Protocol):
    def get(self, workflow_id: str, *, for_update: bool = False) -> Workflow | None: ...
    def find(
        self, project_key: str, flag_key: str, env_key: str, *, status: str | None, sort: str, page: Page
    ) -> tuple[list[Workflow], int]:
        """The workflows of one flag in one environment; ``sort`` is ``creationDate`` or ``-creationDate``."""
        ...

    def add(self, workflow: Workflow) -> None: ...
    def update(self, workflow: Workflow) -> None: ...
    def delete(self, workflow: Workflow) -> None: ...
    def due(self, now: int, limit: int = 20) -> list[str]:
        """Ids of active workflows to look at by ``now`` (``Workflow.wake_at``), locked for this
        transaction (others' locked rows skipped)."""
        ...


class WorkflowTemplateRepository(Protocol):
    def get(self, key: str) -> Template | None: ...
    def list_all(self) -> list[Template]:
        """Oldest first."""
        ...

    def add(self, template: Template) -> None: ...
    def delete(self, template: Template) -> None: ...


class HostResolver(Protocol):
    """Names to IP addresses (``socket.getaddrinfo`` in production), for the webhook URL checks."""

    def resolve(self, host: str, port: int) -> list[str]:
        """The host's addresses; raises OSError when the name does not resolve."""
        ...


@dataclass(frozen=True)
class WebhookOptions:
    """``allow_private``: webhooks may reach any address (``FLAGWARD_WEBHOOK_ALLOW_PRIVATE``).
    ``resolver``: checks a host name's addresses when a webhook is saved (None: only IP literals are)."""

    allow_private: bool = False
    resolver: HostResolver | None = None


class Transport(Protocol):
    """Delivers messages of one kind to the outside world (``flagward.delivery``). ``send`` runs in a
    worker thread, outside any transaction; it returns a status code worth recording (or None), and
    raises :class:`DeliveryFailed` when the receiver did not take the message."""

    def send(self, message: OutboxMessage) -> int | None: ...


class DeliveryFailed(Exception):
    def __init__(self, failure: Failure) -> None:
        super().__init__(failure.error)
        self.failure = failure


@dataclass(frozen=True)
class NotificationOptions:
    """How people are told: whether e-mail is on (SMTP configured) and the server's public URL for links."""

    email: bool = False
    public_url: str = ""


class Meta(Protocol):
    """Account-wide values kept by the store."""

    def account_id(self) -> str: ...

    def accounts_generation(self) -> str | None:
        """Replaced by every transaction that changes members, teams, tokens or custom roles (None: the
        store keeps none, and nothing derived from accounts may be cached)."""
        ...


class UnitOfWork(Protocol):
    """A transaction. Rolled back on exit unless ``commit()`` was called; events and after-commit
    callbacks run only once the commit has succeeded."""

    @property
    def projects(self) -> ProjectRepository: ...
    @property
    def environments(self) -> EnvironmentRepository: ...
    @property
    def flags(self) -> FlagRepository: ...
    @property
    def segments(self) -> SegmentRepository: ...
    @property
    def tombstones(self) -> Tombstones: ...
    @property
    def approvals(self) -> ApprovalRepository: ...
    @property
    def flag_usage(self) -> FlagUsageRepository: ...
    @property
    def members(self) -> MemberRepository: ...
    @property
    def teams(self) -> TeamRepository: ...
    @property
    def tokens(self) -> TokenRepository: ...
    @property
    def sessions(self) -> SessionRepository: ...
    @property
    def invitations(self) -> InvitationRepository: ...
    @property
    def rate_counters(self) -> RateCounters: ...
    @property
    def audit(self) -> AuditLog: ...
    @property
    def meta(self) -> Meta: ...
    @property
    def outbox(self) -> Outbox: ...
    @property
    def notifications(self) -> NotificationRepository: ...
    @property
    def webhooks(self) -> WebhookRepository: ...
    @property
    def scheduled_changes(self) -> ScheduledChangeRepository: ...
    @property
    def expiring_targets(self) -> ExpiringTargetRepository: ...
    @property
    def triggers(self) -> TriggerRepository: ...
    @property
    def roles(self) -> CustomRoleRepository: ...
    @property
    def workflows(self) -> WorkflowRepository: ...
    @property
    def workflow_templates(self) -> WorkflowTemplateRepository: ...

    def __enter__(self) -> Self: ...
    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None: ...
    def commit(self) -> None: ...
    def rollback(self) -> None: ...
    def publish(self, event: Event) -> None:
        """Queue an event for the broker; it is released only after commit."""
        ...


class UnitOfWorkFactory(Protocol):
    def __call__(self, *, write: bool = True) -> UnitOfWork: ...  # a fresh, not yet entered unit of work

    def accounts_generation(self) -> str | None:
        """``Meta.accounts_generation`` read on its own, as cheaply as the store allows: what a cached
        actor is checked against on every request (``services.actor_cache``)."""
        ...


class Broker(Protocol):
    def publish(self, events: list[Event]) -> None: ...


class SecretHasher(Protocol):
    """Passwords: slow, salted (argon2). ``verify`` runs in constant time whatever the input."""

    def hash(self, secret: str) -> str: ...
    def verify(self, secret_hash: str | None, secret: str) -> bool: ...


def _no_secrets(_name: str) -> str | None:
    return None


@dataclass(frozen=True)
class ExternalApprovalOptions:
    """External approval services: whether endpoints may be private (``FLAGWARD_WEBHOOK_ALLOW_PRIVATE``),
    where shared secrets are read (by variable name; the server's environment), and how far a
    callback's timestamp may be from now."""

    allow_private: bool = False
    secrets: Callable[[str], str | None] = _no_secrets
    callback_window_seconds: float = 300.0


@dataclass(frozen=True)
class Deps:
    """What every use case may need, assembled once by ``flagward.bootstrap``."""

    uow: UnitOfWorkFactory
    clock: Clock
    passwords: SecretHasher
    notify: NotificationOptions = field(default_factory=NotificationOptions)
    audit_chain: AuditChainCheck | None = None  # None: this process cannot verify the chain
    external: ExternalApprovalOptions = field(default_factory=ExternalApprovalOptions)
    webhooks: WebhookOptions = field(default_factory=WebhookOptions)
    actors: ActorCache = field(default_factory=ActorCache)  # tokens' actors, per process (services.actor_cache)
