"""Webhooks (LaunchDarkly's ``/api/v2/webhooks``): create, read, JSON-patch, delete, and their
delivery logs. Owners and admins manage them; anyone who reads may list them, without their secrets.

A webhook's URL is checked when it is saved (here) and again when each delivery is sent (the
transport, ``flagward.delivery.webhooks``): unless ``FLAGWARD_WEBHOOK_ALLOW_PRIVATE`` is set, it must
not name or resolve to a loopback, link-local, private, unique-local, multicast or unspecified address.
A name that does not resolve when saved is accepted: the check when sending covers it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, cast

from flagward.domain import resources
from flagward.domain.accounts import Actor
from flagward.domain.audit import AuditAction
from flagward.domain.authorization import authorize, authorize_all, authorize_kind, permits
from flagward.domain.errors import InvalidRequest, NotFound
from flagward.domain.ids import new_object_id, new_secret
from flagward.domain.outbox import MessageKind, OutboxMessage
from flagward.domain.policy import parse_statements
from flagward.domain.webhooks import Webhook, ip_literal, refusal, target_of, webhook_document
from flagward.services._common import record_audit
from flagward.services.patching import apply_json_patch
from flagward.services.ports import Deps, OutboxQuery, Page, UnitOfWork


@dataclass(frozen=True)
class NewWebhook:
    url: str
    sign: bool
    on: bool
    name: str | None = None
    secret: str | None = None
    tags: list[str] = field(default_factory=list)
    statements: object = None  # LaunchDarkly's JSON statements, validated here


def webhook_spec(webhook_id: str) -> str:
    return f"webhook/{webhook_id}"


def shows_secret(actor: Actor, webhook: Webhook) -> bool:
    """A webhook's secret is shown to those who may set it (``updateSecret``)."""
    return permits(actor, "updateSecret", resources.webhook(webhook.id, webhook.tags))


def check_destination(deps: Deps, url: str) -> None:
    """Raise InvalidRequest if webhooks may not reach ``url``'s host (see the module docstring)."""
    target = target_of(url)
    if deps.webhooks.allow_private:
        return
    host = target.host.rstrip(".").lower()
    if ip_literal(host):
        addresses = [host]
    elif host == "localhost" or host.endswith(".localhost"):
        addresses = ["127.0.0.1"]
    elif deps.webhooks.resolver is None:
        return
    else:
        try:
            addresses = deps.webhooks.resolver.resolve(host, target.port)
        except OSError:
            return
    for address in addresses:
        reason = refusal(address)
        if reason is not None:
            raise InvalidRequest(
                f"url: webhooks may not reach {target.host} ({reason}); "
                "set FLAGWARD_WEBHOOK_ALLOW_PRIVATE=1 to allow private addresses"
            )


def _validated(deps: Deps, webhook: Webhook) -> Webhook:
    if webhook.sign is True and not webhook.secret:
        webhook.secret = new_secret("", 32)  # LaunchDarkly: signed and no secret given, one is made
    webhook.validate()
    check_destination(deps, webhook.url)
    return webhook


def _audit(
    deps: Deps,
    uow: UnitOfWork,
    actor: Actor,
    webhook: Webhook,
    *,
    actions: list[str],
    verb: str,
    comment: str | None = None,
    previous: dict[str, Any] | None = None,
    current: dict[str, Any] | None = None,
) -> None:
    record_audit(
        uow,
        deps.clock,
        actor,
        kind="webhook",
        name=webhook.name or webhook.id,
        actions=actions,
        resource=webhook_spec(webhook.id),
        title_verb=verb,
        description=f"{verb.capitalize()} webhook {webhook.name or webhook.id}",
        comment=comment,
        previous=previous,
        current=current,
    )


def create_webhook(deps: Deps, *, actor: Actor, new: NewWebhook) -> Webhook:
    authorize(actor, "createWebhook", resources.webhook("*", new.tags))
    webhook = _validated(
        deps,
        Webhook(
            id=new_object_id(),
            url=new.url,
            secret=new.secret or "",
            sign=new.sign,
            on=new.on,
            creation_date=deps.clock.now_ms(),
            name=new.name,
            tags=list(new.tags),
            statements=parse_statements(new.statements),
        ),
    )
    with deps.uow() as uow:
        uow.webhooks.add(webhook)
        current = webhook_document(webhook, with_secret=False)
        _audit(deps, uow, actor, webhook, actions=[AuditAction.CREATE_WEBHOOK], verb="created", current=current)
        uow.commit()
    return webhook


def load_webhook(uow: UnitOfWork, webhook_id: str, *, for_update: bool = False) -> Webhook:
    webhook = uow.webhooks.get(webhook_id, for_update=for_update)
    if webhook is None:
        raise NotFound(f"Unknown webhook '{webhook_id}'")
    return webhook


WEBHOOKS = resources.webhook("*")


def list_webhooks(deps: Deps, *, actor: Actor) -> list[Webhook]:
    """The webhooks the actor may view (``viewWebhook``); Forbidden when there are some and it may view
    none, or when it could view no webhook at all."""
    authorize_kind(actor, "viewWebhook", WEBHOOKS)
    with deps.uow(write=False) as uow:
        found = uow.webhooks.list_all()
    shown = [w for w in found if permits(actor, "viewWebhook", resources.webhook(w.id, w.tags))]
    if found and not shown:
        authorize(actor, "viewWebhook", resources.webhook(found[0].id, found[0].tags))
    return shown


def get_webhook(deps: Deps, *, actor: Actor, webhook_id: str) -> Webhook:
    authorize_kind(actor, "viewWebhook", WEBHOOKS)
    with deps.uow(write=False) as uow:
        webhook = load_webhook(uow, webhook_id)
    authorize(actor, "viewWebhook", resources.webhook(webhook.id, webhook.tags))
    return webhook


_WRITABLE = ("name", "url", "secret", "sign", "on", "tags", "statements")
_ACTIONS = {
    "name": AuditAction.UPDATE_WEBHOOK_NAME,
    "url": AuditAction.UPDATE_WEBHOOK_URL,
    "secret": AuditAction.UPDATE_WEBHOOK_SECRET,
    "sign": AuditAction.UPDATE_WEBHOOK_SECRET,
    "on": AuditAction.UPDATE_WEBHOOK_ON,
    "tags": AuditAction.UPDATE_WEBHOOK_TAGS,
    "statements": AuditAction.UPDATE_WEBHOOK_STATEMENTS,
}


def patch_webhook(deps: Deps, *, actor: Actor, webhook_id: str, patch: object, comment: str | None = None) -> Webhook:
    """Apply a JSON patch to the webhook's document (its writable fields: name, url, secret, sign, on,
    tags, statements); all operations apply or none. Each changed field is authorized as its action
    (``updateUrl``, ``updateSecret``, …) on the webhook."""
    with deps.uow() as uow:
        webhook = load_webhook(uow, webhook_id, for_update=True)
        before = {"name": None, "secret": "", **webhook_document(webhook, with_secret=True)}
        after = apply_json_patch(before, patch, writable=_WRITABLE)
        changed = [name for name in _WRITABLE if after.get(name) != before.get(name)]
        target = resources.webhook(webhook.id, webhook.tags)
        # A patch that changes nothing still answers the webhook: at least viewing it must be allowed.
        actions = dict.fromkeys(_ACTIONS[name].value for name in changed) or {"viewWebhook": None}
        authorize_all(actor, [(a, target) for a in actions])
        if not changed:
            return webhook
        updated = _validated(
            deps,
            Webhook(
                id=webhook.id,
                # Any JSON may come out of a patch: Webhook.validate (in _validated) checks the types.
                url=cast(str, after.get("url")),
                secret=after.get("secret") or "",
                sign=cast(bool, after.get("sign")),
                on=cast(bool, after.get("on")),
                creation_date=webhook.creation_date,
                name=after.get("name"),
                tags=cast(list[str], after.get("tags")),
                statements=parse_statements(after.get("statements")),
                version=webhook.version + 1,
            ),
        )
        uow.webhooks.update(updated)
        _audit(
            deps,
            uow,
            actor,
            updated,
            actions=list(dict.fromkeys(_ACTIONS[name] for name in changed)),
            verb="updated",
            comment=comment,
            previous=webhook_document(webhook, with_secret=False),
            current=webhook_document(updated, with_secret=False),
        )
        uow.commit()
    return updated


def delete_webhook(deps: Deps, *, actor: Actor, webhook_id: str) -> None:
    """Delete the webhook; its undelivered messages are given up when their turn comes."""
    with deps.uow() as uow:
        webhook = load_webhook(uow, webhook_id, for_update=True)
        authorize(actor, "deleteWebhook", resources.webhook(webhook.id, webhook.tags))
        uow.webhooks.delete(webhook)
        previous = webhook_document(webhook, with_secret=False)
        _audit(deps, uow, actor, webhook, actions=[AuditAction.DELETE_WEBHOOK], verb="deleted", previous=previous)
        uow.commit()


def list_deliveries(deps: Deps, *, actor: Actor, webhook_id: str, page: Page) -> tuple[list[OutboxMessage], int]:
    """The webhook's delivery log, newest first: each delivery's status, attempts, last error and code."""
    authorize_kind(actor, "viewWebhook", WEBHOOKS)
    with deps.uow(write=False) as uow:
        webhook = load_webhook(uow, webhook_id)
        authorize(actor, "viewWebhook", resources.webhook(webhook.id, webhook.tags))
        return uow.outbox.find(OutboxQuery(kind=MessageKind.WEBHOOK, target=webhook_id, page=page))


def webhook_for_delivery(deps: Deps, webhook_id: str) -> Webhook | None:
    """The webhook as it is now, for the transport about to send one of its deliveries (None: deleted)."""
    with deps.uow(write=False) as uow:
        return uow.webhooks.get(webhook_id)
