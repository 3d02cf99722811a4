"""Audit entries to webhook deliveries: in the transaction that appends an audit entry, one outbox
message per webhook whose policy matches it, keyed per webhook so that each webhook receives its
entries one at a time, in the order they were written (the messages are added under the audit chain's
lock, which orders the appends, and the outbox keeps that order per key)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from flagward.domain.audit import AuditEntry
from flagward.domain.errors import InvalidRequest
from flagward.domain.outbox import MessageKind, NewMessage
from flagward.domain.policy import ResourceSpec, Segment, parse_spec
from flagward.domain.representations import audit_entry_document
from flagward.domain.webhooks import Webhook
from flagward.services.ports import Clock, UnitOfWork


def ordering_key(webhook_id: str) -> str:
    return f"webhook:{webhook_id}"


def webhooks_on(uow: UnitOfWork) -> list[Webhook]:
    """The webhooks that are on."""
    return [w for w in uow.webhooks.list_all() if w.on]


def prepare_deliveries(
    uow: UnitOfWork, clock: Clock, entry: AuditEntry, webhooks: list[Webhook]
) -> Callable[[AuditEntry], None] | None:
    """What enqueues ``entry`` for every webhook of ``webhooks`` (as ``webhooks_on`` read them in this
    transaction) that wants it, once the entry is sealed (its body carries its hash); None when none
    wants it. What deciding that reads (tags, the account's id) is read now, before the commit takes the
    audit chain's lock, under which the returned function runs."""
    if not webhooks:
        return None
    accesses = _accesses(uow, entry, tagged=any(_uses_tags(w) for w in webhooks))
    wanting = [w for w in webhooks if w.wants(accesses)]
    if not wanting:
        return None
    account_id = uow.meta.account_id()

    def enqueue(sealed: AuditEntry) -> None:
        body = json.dumps(audit_entry_document(sealed, account_id, detail=True), separators=(",", ":"))
        now = clock.now_ms()
        for webhook in wanting:
            payload = {"entryId": sealed.id, "body": body}
            uow.outbox.add(
                NewMessage(
                    kind=MessageKind.WEBHOOK, payload=payload, target=webhook.id, ordering_key=ordering_key(webhook.id)
                ),
                now=now,
            )

    return enqueue


def _uses_tags(webhook: Webhook) -> bool:
    return any(";" in spec for s in webhook.statements for spec in (*s.resources, *s.not_resources))


def _accesses(uow: UnitOfWork, entry: AuditEntry, *, tagged: bool) -> list[tuple[str, str | ResourceSpec]]:
    """The entry's ``(action, resource)`` pairs; with ``tagged``, each resource carries the tags its
    project, environment, flag or segment has (so that ``flag/*;mobile`` can match)."""
    if not tagged:
        return [(a.action, a.resource) for a in entry.accesses]
    tags = _TagLookup(uow, entry)
    return [(a.action, tags.spec(a.resource)) for a in entry.accesses]


class _TagLookup:
    def __init__(self, uow: UnitOfWork, entry: AuditEntry) -> None:
        self._uow = uow
        self._entry = entry
        self._memo: dict[str, frozenset[str]] = {}

    def spec(self, resource: str) -> str | ResourceSpec:
        try:
            spec = parse_spec(resource)
        except InvalidRequest:
            return resource
        segments = [
            Segment(s.type, s.name, s.tags | self._tags(spec.segments[: i + 1], resource))
            for i, s in enumerate(spec.segments)
        ]
        return ResourceSpec(tuple(segments))

    def _tags(self, path: tuple[Segment, ...], resource: str) -> frozenset[str]:
        key = ":".join(f"{s.type}/{s.name}" for s in path)
        if key not in self._memo:
            found = self._lookup(path)
            if (
                found is None
                and len(path) == len(parse_spec(resource).segments)
                and resource in self._entry.target_resources
            ):
                found = _document_tags(self._entry.current) or _document_tags(self._entry.previous)
            self._memo[key] = frozenset(t.lower() for t in found or [])
        return self._memo[key]

    def _lookup(self, path: tuple[Segment, ...]) -> list[str] | None:
        names = {s.type: s.name or "" for s in path}
        kinds = [s.type for s in path]
        uow = self._uow
        getters: dict[tuple[str, ...], Callable[[], Any]] = {
            ("proj",): lambda: uow.projects.get(names["proj"]),
            ("proj", "env"): lambda: uow.environments.get(names["proj"], names["env"]),
            ("proj", "env", "flag"): lambda: uow.flags.get(names["proj"], names["flag"]),
            ("proj", "env", "segment"): lambda: uow.segments.get(names["proj"], names["env"], names["segment"]),
        }
        getter = getters.get(tuple(kinds))
        if getter is None or any("*" in n for n in names.values()):
            return None
        found = getter()
        return None if found is None else list(getattr(found, "tags", []) or [])


def _document_tags(document: dict[str, Any] | None) -> list[str] | None:
    tags = (document or {}).get("tags")
    return [t for t in tags if isinstance(t, str)] if isinstance(tags, list) else None
