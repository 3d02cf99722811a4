"""The audit log: entries newest first, filtered by resource (a specifier, as the REST API's ``spec``)
and by member, paged by date; each entry with what it changed (``domain.audit_diff``), and a banner
that says whether the hash chain verifies (``flagward audit verify``)."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlencode

from fastapi import APIRouter, Request, Response

from flagward.domain.audit import AuditEntry
from flagward.domain.audit_diff import EntryDiff, diff_entry
from flagward.domain.errors import DomainError
from flagward.http.console.security import viewer
from flagward.http.console.templating import render
from flagward.http.deps import get_deps
from flagward.services.approval_inbox import display_name
from flagward.services.audit import audit_chain_status, list_audit_entries
from flagward.services.members import list_members
from flagward.services.ports import AuditQuery, MemberQuery, Page

router = APIRouter(include_in_schema=False)
PAGE_SIZE = 20


@dataclass(frozen=True)
class Row:
    entry: AuditEntry
    diff: EntryDiff
    who: str


def _who(entry: AuditEntry, names: dict[str, str]) -> str:
    actor = entry.actor
    if actor.member_id and actor.member_id in names:
        return names[actor.member_id]
    if actor.token_name:
        return f"token “{actor.token_name}”"
    return actor.member_email or "flagward"


@router.get("/audit")
def audit_page(request: Request, spec: str = "", member: str = "", before: str = "") -> Response:
    current = viewer(request)
    deps = get_deps(request)
    members, _ = list_members(deps, actor=current.actor, query=MemberQuery(page=Page(limit=200)))
    names = {m.id: display_name(m) for m in members}
    query = AuditQuery(
        spec=spec.strip() or None,
        member_id=member or None,
        before=int(before) if before.isdigit() else None,
        limit=PAGE_SIZE + 1,
    )
    error = None
    try:
        entries = list_audit_entries(deps, actor=current.actor, query=query)
    except DomainError as exc:
        entries, error = [], exc.message
    rows = [Row(e, diff_entry(e.kind, e.previous, e.current), _who(e, names)) for e in entries[:PAGE_SIZE]]
    older = None
    if len(entries) > PAGE_SIZE:
        older = urlencode(
            {k: v for k, v in {"spec": spec, "member": member, "before": rows[-1].entry.date}.items() if v}
        )
    return render(
        request,
        "audit/log.html",
        viewer=current,
        nav="audit",
        rows=rows,
        chain=audit_chain_status(deps, actor=current.actor),
        members=sorted(names.items(), key=lambda item: item[1].lower()),
        spec=spec,
        member=member,
        paged=bool(before),
        newest=_query(spec=spec, member=member),
        older=older,
        error=error,
    )


def _query(**values: str) -> str:
    return urlencode({k: v for k, v in values.items() if v})
