"""Helpers every use case shares: loading what it acts on, and writing its audit entry."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Sequence
from contextvars import ContextVar
from typing import Any, ParamSpec, TypeVar

from flagward import metrics
from flagward.domain.accounts import Actor
from flagward.domain.audit import Access, AuditActor, AuditEntry
from flagward.domain.errors import NotFound, OptimisticLockError
from flagward.domain.flags import Flag
from flagward.domain.ids import new_object_id
from flagward.domain.projects import Environment, Project
from flagward.services.ports import Clock, ProjectLockTooWeak, UnitOfWork
from flagward.services.webhook_fanout import prepare_deliveries, webhooks_on


def load_project(uow: UnitOfWork, key: str, *, for_update: bool = False) -> Project:
    project = uow.projects.get(key, for_update=for_update)
    if project is None:
        raise NotFound(f"Unknown project '{key}'")
    return project


def load_environment(uow: UnitOfWork, project_key: str, key: str, *, for_update: bool = False) -> Environment:
    env = uow.environments.get(project_key, key, for_update=for_update)
    if env is None:
        load_project(uow, project_key)  # which is unknown: the project, or the environment in it
        raise _unknown_environment(project_key, key)
    return env


def environment_in(environments: list[Environment], project_key: str, key: str) -> Environment:
    """The environment ``key`` among ``environments`` (those of ``project_key`` read already). Raises NotFound."""
    for env in environments:
        if env.key == key:
            return env
    raise _unknown_environment(project_key, key)


def _unknown_environment(project_key: str, key: str) -> NotFound:
    return NotFound(f"Unknown environment '{key}' in project '{project_key}'")


P = ParamSpec("P")
R = TypeVar("R")

# Whether ``load_flag(for_update=True)`` may lock the project shared: only inside a use case that
# ``shares_project_locks``, which runs it again should the shared lock prove too weak.
_SHARE_PROJECT_LOCKS: ContextVar[bool] = ContextVar("share_project_locks", default=False)


def shares_project_locks(use_case: Callable[P, R]) -> Callable[P, R]:
    """Run ``use_case`` locking its flag's project shared (``load_flag``), so that writes of different
    flags of one project run side by side; if it turns out to need the project's exclusive lock (it
    reads the project's other rows, or asks for that lock: ``ProjectLockTooWeak``), run it again with the
    exclusive lock from the start. A use case may only be wrapped if it has no effect before its commit
    but through its unit of work, whose rollback undoes it."""

    @functools.wraps(use_case)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        if _SHARE_PROJECT_LOCKS.get():
            return use_case(*args, **kwargs)  # called by another such use case: it retries the whole
        token = _SHARE_PROJECT_LOCKS.set(True)
        try:
            return use_case(*args, **kwargs)
        except ProjectLockTooWeak:
            metrics.project_lock_escalations.inc()
            _SHARE_PROJECT_LOCKS.set(False)
            return use_case(*args, **kwargs)
        finally:
            _SHARE_PROJECT_LOCKS.reset(token)

    return run


def require_project_lock(uow: UnitOfWork, project_key: str) -> None:
    """Before a write's check reads other rows of its project (other flags, segments, who uses the flag
    as a prerequisite): those rows are kept still only by the project's exclusive lock. Raises
    ProjectLockTooWeak if this transaction holds the shared one (``shares_project_locks`` retries)."""
    if uow.projects.held_shared(project_key):
        raise ProjectLockTooWeak(project_key)


def lock_project_for_flag_write(uow: UnitOfWork, project_key: str) -> Project:
    """Lock the project before one of its flags (``load_flag``): shared inside a use case that
    ``shares_project_locks``, exclusively elsewhere. Raises NotFound."""
    if not _SHARE_PROJECT_LOCKS.get():
        return load_project(uow, project_key, for_update=True)
    project = uow.projects.lock_shared(project_key)
    if project is None:
        raise NotFound(f"Unknown project '{project_key}'")
    return project


def load_flag(
    uow: UnitOfWork, project_key: str, key: str, *, for_update: bool = False, for_share: bool = False
) -> Flag:
    """The flag; ``for_update`` locks its project first, then the flag, until commit.

    A flag's checks read other rows of the project (prerequisites must exist and make no cycle, a
    deleted or archived flag must be no one's prerequisite, segments used by rules must exist), which
    the flag's own row lock does not cover: every write of a project's flags and segments holds the
    project's lock, so those checks see what they guard. Project before flag is the lock order.
    Inside a use case that ``shares_project_locks`` the project is locked shared, and a check that reads
    its other rows first calls ``require_project_lock``, which has the use case run again under the
    exclusive lock: a write that reads only its own flag does not wait for the writes of other flags.

    ``for_share`` is for a transaction that writes something about the flag, not the flag (an approval
    request): the flag cannot be deleted before it commits, and the project's other writers are not
    held up (its checks guard nothing; applying the request runs them again under the locks)."""
    if for_update:
        lock_project_for_flag_write(uow, project_key)
    flag = uow.flags.get(project_key, key, for_update=for_update, for_share=for_share and not for_update)
    if flag is None:
        if not for_update:
            load_project(uow, project_key)  # which is unknown: the project, or the flag in it
        raise NotFound(f"Unknown flag '{key}' in project '{project_key}'")
    return flag


def audit_actor(actor: Actor) -> AuditActor:
    return AuditActor(
        member_id=actor.member_id,
        member_email=actor.member_email,
        member_role=actor.role.value if actor.member_id else None,
        token_id=actor.token_id,
        token_name=actor.token_name,
        token_ending=actor.token_ending,
        service_token=actor.is_service_token,
    )


def record_audit(
    uow: UnitOfWork,
    clock: Clock,
    actor: Actor,
    *,
    kind: str,
    name: str,
    actions: Sequence[str],
    resource: str,
    description: str,
    title_verb: str,
    comment: str | None = None,
    previous: dict[str, Any] | None = None,
    current: dict[str, Any] | None = None,
    approval_request_id: str | None = None,
    extra_resources: Sequence[str] = (),
    accesses: Sequence[tuple[str, str]] = (),
    delta: Any = None,
) -> None:
    """Append the audit entry of a change, in the caller's transaction (it is sealed as that commits).
    Each of ``actions`` is recorded on ``resource``; ``accesses`` adds (action, resource) pairs on other
    resources; ``delta`` is the request body that made the change (LaunchDarkly's ``delta``), without its
    comment."""
    who = actor.member_email or actor.token_name or actor.kind.value
    entry = AuditEntry(
        id=new_object_id(),
        date=clock.now_ms(),
        kind=kind,
        name=name,
        description=description,
        short_description=f"{who} {title_verb} {kind} {name}",
        title_verb=title_verb,
        accesses=[
            Access(action=str(a), resource=r) for a, r in dict.fromkeys([*((a, resource) for a in actions), *accesses])
        ],
        actor=audit_actor(actor),
        target_resources=[resource, *extra_resources],
        comment=comment or None,
        previous=previous,
        current=current,
        approval_request_id=approval_request_id,
        delta=delta,
    )
    # The webhooks that want this entry get it in this transaction, once the commit has sealed it.
    uow.audit.append(entry, then=prepare_deliveries(uow, clock, entry, webhooks_on(uow)))


def run_each(ids: Iterable[str], run_one: Callable[[str], bool]) -> list[str]:
    """The scheduler's loop: ``run_one`` each due id in its own transaction (it locks the row and re-checks
    it, so each runs exactly once across processes, and answers whether it ran here). An id whose
    transaction loses a race with a concurrent one is left for the next run. Returns the ids run here."""
    done: list[str] = []
    for item_id in ids:
        try:
            if run_one(item_id):
                done.append(item_id)
        except OptimisticLockError:
            continue
    return done
