"""Reading and verifying the audit log."""

from __future__ import annotations

from flagward.domain.accounts import Actor
from flagward.domain.audit import AuditEntry
from flagward.domain.errors import NotFound
from flagward.domain.permissions import Permission, require
from flagward.services.ports import AuditQuery, Deps


def list_audit_entries(deps: Deps, *, actor: Actor, query: AuditQuery) -> list[AuditEntry]:
    require(actor, Permission.READ)
    with deps.uow(write=False) as uow:
        return uow.audit.find(query)


def get_audit_entry(deps: Deps, *, actor: Actor, entry_id: str) -> AuditEntry:
    require(actor, Permission.READ)
    with deps.uow(write=False) as uow:
        entry = uow.audit.get(entry_id)
    if entry is None:
        raise NotFound(f"Unknown audit log entry '{entry_id}'")
    return entry
