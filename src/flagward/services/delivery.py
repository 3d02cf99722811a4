"""The outbox's use cases for the dispatcher (``flagward.delivery``): claim due messages, record what
happened to each, and report the backlog. Each runs in a short transaction of its own, so that no
transaction is open while a message travels."""

from __future__ import annotations

from collections.abc import Collection

from flagward.domain.outbox import Failure, OutboxMessage, OutboxStats, RetryPolicy
from flagward.services.ports import Deps


def claim(deps: Deps, *, owner: str, lease_ms: int, limit: int, kinds: Collection[str]) -> list[OutboxMessage]:
    """Lease up to ``limit`` due messages to ``owner`` (each attempt is counted as it is claimed, so an
    attempt cut short by a crash still counts toward the limit)."""
    if not kinds:
        return []
    with deps.uow() as uow:
        messages = uow.outbox.claim(now=deps.clock.now_ms(), owner=owner, lease_ms=lease_ms, limit=limit, kinds=kinds)
        uow.commit()
    return messages


def record_success(deps: Deps, message: OutboxMessage, *, owner: str, status_code: int | None = None) -> bool:
    """Mark the message sent. False when ``owner`` had lost its lease (another process may send it again:
    the lease must outlast any transport's timeout)."""
    with deps.uow() as uow:
        done = uow.outbox.succeeded(message.id, owner=owner, now=deps.clock.now_ms(), status_code=status_code)
        uow.commit()
    return done


def record_failure(
    deps: Deps, message: OutboxMessage, *, owner: str, failure: Failure, policy: RetryPolicy, jitter: float
) -> bool:
    """Schedule the next attempt with backoff, or mark the message dead (a permanent failure, or the
    attempts are used up) keeping ``failure`` as its last error."""
    now = deps.clock.now_ms()
    retry_at = None if failure.permanent else policy.next_attempt_at(message.attempts, now, jitter)
    with deps.uow() as uow:
        done = uow.outbox.failed(message.id, owner=owner, failure=failure, retry_at=retry_at)
        uow.commit()
    return done


def release_leases(deps: Deps, owner: str | None = None) -> int:
    """End every lease: only for a store served by one process at a time (SQLite), when that process
    starts, since whoever held them is gone. With ``owner``: only that process's (it is stopping).
    Their messages are claimable at once."""
    with deps.uow() as uow:
        released = uow.outbox.release_leases(owner)
        uow.commit()
    return released


def outbox_stats(deps: Deps) -> OutboxStats:
    with deps.uow(write=False) as uow:
        return uow.outbox.stats(deps.clock.now_ms())
