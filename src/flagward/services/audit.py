"""Reading and verifying the audit log."""

from __future__ import annotations

import threading
from collections.abc import Callable

from flagward.domain.accounts import Actor
from flagward.domain.audit import AuditEntry
from flagward.domain.audit_chain import ChainBreak
from flagward.domain.authorization import authorize
from flagward.domain.errors import NotFound
from flagward.domain.resources import ACCOUNT
from flagward.services.ports import AuditQuery, ChainReport, Clock, Deps


def list_audit_entries(deps: Deps, *, actor: Actor, query: AuditQuery) -> list[AuditEntry]:
    authorize(actor, "viewAuditLog", ACCOUNT)
    with deps.uow(write=False) as uow:
        return uow.audit.find(query)


def get_audit_entry(deps: Deps, *, actor: Actor, entry_id: str) -> AuditEntry:
    authorize(actor, "viewAuditLog", ACCOUNT)
    with deps.uow(write=False) as uow:
        entry = uow.audit.get(entry_id)
    if entry is None:
        raise NotFound(f"Unknown audit log entry '{entry_id}'")
    return entry


def audit_chain_status(deps: Deps, *, actor: Actor) -> ChainReport | None:
    """Whether the audit chain verifies (``flagward audit verify`` without anchors), or None where this
    process cannot tell. The answer may be up to ``CachedChainCheck.ttl_ms`` old."""
    authorize(actor, "viewAuditLog", ACCOUNT)
    return deps.audit_chain() if deps.audit_chain is not None else None


class CachedChainCheck:
    """Verifying reads the whole log, and the console's audit page asks on every load: one result is
    reused for ``ttl_ms``, and concurrent callers wait for one verification instead of starting many."""

    def __init__(self, verify: Callable[[], tuple[int, list[ChainBreak]]], clock: Clock, ttl_ms: int = 30_000) -> None:
        self._verify, self._clock, self.ttl_ms = verify, clock, ttl_ms
        self._lock = threading.Lock()
        self._last: ChainReport | None = None

    def __call__(self) -> ChainReport:
        with self._lock:
            now = self._clock.now_ms()
            if self._last is None or now - self._last.checked_at >= self.ttl_ms:
                checked, breaks = self._verify()
                self._last = ChainReport(checked=checked, breaks=breaks, checked_at=now)
            return self._last
