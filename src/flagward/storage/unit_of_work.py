"""The SQL unit of work: one session, one transaction, rolled back unless committed; events are
released to the broker only after the commit succeeded."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from types import TracebackType
from typing import Any, Self, cast

import psycopg
from sqlalchemy import Engine, Executable
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from flagward import metrics
from flagward.domain.errors import OptimisticLockError
from flagward.domain.events import Event
from flagward.services.ports import Broker, StoreUnavailable
from flagward.storage import accounts_generation, limits
from flagward.storage.engine import BUSY_THRESHOLD_SECONDS, WRITE_OPTION, is_sqlite
from flagward.storage.repositories import (
    SqlApprovalRepository,
    SqlAuditLog,
    SqlCustomRoleRepository,
    SqlEnvironmentRepository,
    SqlExpiringTargets,
    SqlFlagRepository,
    SqlFlagUsage,
    SqlInvitationRepository,
    SqlMemberRepository,
    SqlMeta,
    SqlNotifications,
    SqlOutbox,
    SqlProjectRepository,
    SqlRateCounters,
    SqlScheduledChanges,
    SqlSegmentRepository,
    SqlSessionRepository,
    SqlTeamRepository,
    SqlTokenRepository,
    SqlTombstones,
    SqlTriggers,
    SqlWebhooks,
    SqlWorkflows,
    SqlWorkflowTemplates,
)
from flagward.storage.repositories.audit import read_accounts_generation

_DURATION = {True: metrics.store_transaction.labels("write"), False: metrics.store_transaction.labels("read")}


class SqlUnitOfWork:
    session: Session
    projects: SqlProjectRepository
    environments: SqlEnvironmentRepository
    flags: SqlFlagRepository
    segments: SqlSegmentRepository
    approvals: SqlApprovalRepository
    tombstones: SqlTombstones
    flag_usage: SqlFlagUsage
    members: SqlMemberRepository
    teams: SqlTeamRepository
    tokens: SqlTokenRepository
    sessions: SqlSessionRepository
    invitations: SqlInvitationRepository
    rate_counters: SqlRateCounters
    audit: SqlAuditLog
    meta: SqlMeta
    outbox: SqlOutbox
    notifications: SqlNotifications
    webhooks: SqlWebhooks
    scheduled_changes: SqlScheduledChanges
    expiring_targets: SqlExpiringTargets
    triggers: SqlTriggers
    roles: SqlCustomRoleRepository
    workflows: SqlWorkflows
    workflow_templates: SqlWorkflowTemplates

    def __init__(
        self,
        session_factory: sessionmaker[Session],
        broker: Broker | None,
        *,
        write: bool,
        on_outbox_commit: Callable[[], None] | None = None,
        writer_lock: threading.Lock | None = None,
    ) -> None:
        self._session_factory = session_factory
        self._writer_lock = writer_lock if write else None
        self._holds_writer_lock = False
        self._broker = broker
        self._write = write
        self._events: list[Event] = []
        self._on_outbox_commit = on_outbox_commit
        self._enqueued = False

    def __enter__(self) -> Self:
        self._started = time.perf_counter()
        if self._writer_lock is not None:
            # SQLite has one writer at a time. This process's writers queue here, each woken the moment
            # the previous one commits, instead of polling in SQLite's busy handler, whose sleeps grow to
            # 100 ms (under 8 concurrent writers that made the p99 of an apply 0.5-0.7 s). The busy
            # timeout still covers writers in other processes (the command-line tools).
            if not self._writer_lock.acquire(timeout=_WRITER_WAIT_S):
                raise StoreUnavailable("timed out waiting for the store's write lock")
            self._holds_writer_lock = True
            waited = time.perf_counter() - self._started
            if waited > BUSY_THRESHOLD_SECONDS:  # another writer of this process held the lock
                metrics.sqlite_busy_waits.inc()
                metrics.sqlite_busy_wait_seconds.observe(waited)
        self.session = self._session_factory()
        try:
            # Procure the connection now, so the BEGIN (IMMEDIATE for writers on SQLite) happens here.
            self.session.connection(execution_options={WRITE_OPTION: self._write})
        except OperationalError as exc:
            self.session.close()
            self._release_writer_lock()
            raise StoreUnavailable(str(exc.orig)) from exc
        self.projects = SqlProjectRepository(self.session)
        self.environments = SqlEnvironmentRepository(self.session)
        self.flags = SqlFlagRepository(self.session)
        self.segments = SqlSegmentRepository(self.session)
        self.approvals = SqlApprovalRepository(self.session)
        self.tombstones = SqlTombstones(self.session)
        self.flag_usage = SqlFlagUsage(self.session)
        self.members = SqlMemberRepository(self.session)
        self.teams = SqlTeamRepository(self.session)
        self.tokens = SqlTokenRepository(self.session)
        self.sessions = SqlSessionRepository(self.session)
        self.invitations = SqlInvitationRepository(self.session)
        self.rate_counters = SqlRateCounters(self.session)
        self.audit = SqlAuditLog(self.session)
        self.meta = SqlMeta(self.session)
        self.outbox = SqlOutbox(self.session, on_add=self._note_enqueued)
        self.notifications = SqlNotifications(self.session)
        self.webhooks = SqlWebhooks(self.session)
        self.scheduled_changes = SqlScheduledChanges(self.session)
        self.expiring_targets = SqlExpiringTargets(self.session)
        self.triggers = SqlTriggers(self.session)
        self.roles = SqlCustomRoleRepository(self.session)
        self.workflows = SqlWorkflows(self.session)
        self.workflow_templates = SqlWorkflowTemplates(self.session)
        return self

    def _note_enqueued(self) -> None:
        self._enqueued = True

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        try:
            self.rollback()
        except DBAPIError:
            pass  # the connection is gone; the exception being handled (if any) says why
        finally:
            self.session.close()
            self._release_writer_lock()
            _DURATION[self._write].observe(time.perf_counter() - self._started)
        if isinstance(exc, OptimisticLockError | IntegrityError) or _lost_to_a_concurrent_transaction(exc):
            metrics.store_conflicts.inc()
        _translate(exc)

    def _release_writer_lock(self) -> None:
        if self._holds_writer_lock and self._writer_lock is not None:
            self._holds_writer_lock = False
            self._writer_lock.release()

    def commit(self) -> None:
        try:
            self.session.flush()
            if accounts_generation.changed(self.session.connection()):
                self.meta.new_accounts_generation()  # in this transaction: cached actors go stale with it
            writes = self.audit.seal_pending()  # the chain's lock, held to the commit, is taken last
            _write_then_commit(self.session, writes)
            self.session.commit()
        except DBAPIError as exc:
            _translate(exc)
            raise
        events, self._events = self._events, []
        if events and self._broker is not None:
            self._broker.publish(events)
        enqueued, self._enqueued = self._enqueued, False
        if enqueued and self._on_outbox_commit is not None:
            self._on_outbox_commit()  # wake this process's dispatcher now rather than at its next poll

    def rollback(self) -> None:
        self.session.rollback()
        self.audit.discard_pending()
        self._events.clear()
        self._enqueued = False

    def publish(self, event: Event) -> None:
        self._events.append(event)


def _write_then_commit(session: Session, writes: list[tuple[Executable, dict[str, Any]]]) -> None:
    """Run ``writes``, the last of a transaction (``SqlAuditLog.seal_pending``'s), and on PostgreSQL commit
    with them: in pipeline mode the statements and the COMMIT travel in one round trip, so the audit
    chain's lock they release is held for that round trip only, not for one per statement, each of which
    this process must then wait for the GIL to answer. The session's commit that follows finds the
    transaction committed (psycopg sends nothing for it) and ends its own bookkeeping. A statement that
    fails aborts the pipeline, and with it the COMMIT: the error is raised here, and the caller rolls back."""
    if not writes:
        return
    # What waited for the sealed entries (``then``) and went through the ORM is written now, in the
    # transaction: after the COMMIT below, the session's own commit would flush it into a new one.
    session.flush()
    connection = session.connection()
    if connection.dialect.name != "postgresql":
        for statement, params in writes:
            session.execute(statement, params)
        return
    driver = cast(psycopg.Connection[Any], connection.connection.driver_connection)
    try:
        with driver.pipeline():
            for statement, params in writes:
                session.execute(statement, params)
            driver.execute("COMMIT")
    except psycopg.Error as exc:  # raised by the pipeline's end, outside SQLAlchemy: wrapped as it wraps
        raise DBAPIError.instance(None, None, exc, psycopg.Error, dialect=connection.dialect) from exc


class SqlUnitOfWorkFactory:
    def __init__(self, engine: Engine, broker: Broker | None = None) -> None:
        self.engine = engine
        self.broker = broker
        self.on_outbox_commit: Callable[[], None] | None = None  # set by bootstrap: the dispatcher's doorbell
        self._sessions = sessionmaker(bind=engine, expire_on_commit=False, autoflush=True)
        limits.install(engine)
        accounts_generation.install(engine)
        self._writer_lock = threading.Lock() if is_sqlite(engine) else None

    def __call__(self, *, write: bool = True) -> SqlUnitOfWork:
        return SqlUnitOfWork(
            self._sessions,
            self.broker,
            write=write,
            on_outbox_commit=self.on_outbox_commit,
            writer_lock=self._writer_lock,
        )

    def accounts_generation(self) -> str | None:
        """On PostgreSQL one statement in autocommit, on a pooled connection without a session: a read
        transaction would cost two more round trips (BEGIN, ROLLBACK) on every authenticated request.
        SQLite's reads are local: a read unit of work (its BEGIN is ours, ``storage.engine``)."""
        if is_sqlite(self.engine):
            with self(write=False) as uow:
                return uow.meta.accounts_generation()
        try:
            with self.engine.connect() as connection:
                connection.execution_options(isolation_level="AUTOCOMMIT")
                return read_accounts_generation(connection)
        except DBAPIError as exc:
            _translate(exc)
            raise


# As long as SQLite's own busy timeout (storage.engine): a writer waits this long for the ones before it.
_WRITER_WAIT_S = 30.0


def _translate(exc: BaseException | None) -> None:
    """Database failures leave as domain-level errors: a lost race on a unique key or a serialization
    failure is a 409 the client can retry; a lost connection is StoreUnavailable (503)."""
    if isinstance(exc, IntegrityError) or _lost_to_a_concurrent_transaction(exc):
        raise OptimisticLockError("Conflict with a concurrent request. Retry your request.") from exc
    if isinstance(exc, DBAPIError) and (exc.connection_invalidated or isinstance(exc, OperationalError)):
        raise StoreUnavailable(str(exc.orig)) from exc


# PostgreSQL's serialization_failure and deadlock_detected: the database aborted this transaction in
# favour of a concurrent one (writers that lock in different orders, e.g. applying an approval request
# while its flag is deleted). The request can simply be retried.
_CONCURRENCY_SQLSTATES = frozenset({"40001", "40P01"})


def _lost_to_a_concurrent_transaction(exc: BaseException | None) -> bool:
    return isinstance(exc, DBAPIError) and getattr(exc.orig, "sqlstate", None) in _CONCURRENCY_SQLSTATES
