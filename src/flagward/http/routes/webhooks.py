"""Webhooks: LaunchDarkly's ``/api/v2/webhooks`` and flagward's own delivery log of each."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Body, Request, Response

from flagward.domain.outbox import MessageStatus, OutboxMessage
from flagward.domain.webhooks import Webhook
from flagward.domain.webhooks import webhook_document as document
from flagward.http.deps import ActorDep, DepsDep, PageDep
from flagward.http.links import collection, link, links
from flagward.http.routes._bodies import json_patch_only
from flagward.http.routes._responses import returns
from flagward.http.routes._router import api_router
from flagward.http.schemas.webhooks import Webhook as WebhookRep
from flagward.http.schemas.webhooks import WebhookDeliveries, Webhooks, webhookPost
from flagward.services import webhooks as service

router = api_router(tags=["Webhooks"])
PATH = "/api/v2/webhooks"


def _rep(webhook: Webhook, *, with_secret: bool) -> dict[str, Any]:
    doc = document(webhook, with_secret=with_secret)
    doc["_links"] = links(f"{PATH}/{webhook.id}", PATH, deliveries=f"{PATH}/{webhook.id}/deliveries")
    return doc


def _delivery(message: OutboxMessage) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "_id": message.id,
        "entryId": str(message.payload.get("entryId", "")),
        "status": message.status.value,
        "attempts": message.attempts,
        "creationDate": message.created_at,
    }
    if message.last_error is not None:
        doc["lastError"] = message.last_error
    if message.last_status_code is not None:
        doc["responseCode"] = message.last_status_code
    if message.status is MessageStatus.PENDING:
        doc["nextAttemptDate"] = message.next_attempt_at
    if message.delivered_at is not None:
        doc["deliveredDate"] = message.delivered_at
    return doc


@router.get(PATH, summary="List webhooks", **returns(Webhooks))
def list_webhooks(actor: ActorDep, deps: DepsDep) -> dict[str, Any]:
    webhooks = service.list_webhooks(deps, actor=actor)
    items = [_rep(w, with_secret=service.shows_secret(actor, w)) for w in webhooks]
    return {"items": items, "_links": {"self": link(PATH)}}


@router.post(PATH, summary="Creates a webhook", **returns(WebhookRep))
def create_webhook(actor: ActorDep, deps: DepsDep, body: webhookPost) -> dict[str, Any]:
    """Owners and admins only. The URL must not reach a private address unless the server allows it
    (``FLAGWARD_WEBHOOK_ALLOW_PRIVATE``); with ``sign`` and no ``secret``, a secret is generated."""
    return _rep(service.create_webhook(deps, actor=actor, new=body.to_domain()), with_secret=True)


@router.get(f"{PATH}/{{id}}", summary="Get webhook", **returns(WebhookRep))
def get_webhook(actor: ActorDep, deps: DepsDep, id: str) -> dict[str, Any]:
    webhook = service.get_webhook(deps, actor=actor, webhook_id=id)
    return _rep(webhook, with_secret=service.shows_secret(actor, webhook))


@router.patch(f"{PATH}/{{id}}", summary="Update webhook (JSON patch)", **returns(WebhookRep))
def patch_webhook(
    request: Request, actor: ActorDep, deps: DepsDep, id: str, payload: Annotated[Any, Body()]
) -> dict[str, Any]:
    patch = json_patch_only(request, payload)
    webhook = service.patch_webhook(deps, actor=actor, webhook_id=id, patch=patch.operations, comment=patch.comment)
    return _rep(webhook, with_secret=True)


@router.delete(f"{PATH}/{{id}}", status_code=204, summary="Delete webhook")
def delete_webhook(actor: ActorDep, deps: DepsDep, id: str) -> Response:
    service.delete_webhook(deps, actor=actor, webhook_id=id)
    return Response(status_code=204)


@router.get(f"{PATH}/{{id}}/deliveries", summary="List a webhook's deliveries", **returns(WebhookDeliveries))
def list_deliveries(actor: ActorDep, deps: DepsDep, id: str, page: PageDep) -> dict[str, Any]:
    """flagward's own: the webhook's delivery log, newest first. Each delivery is one audit-log entry:
    ``pending`` (waiting for its next attempt, or being sent), ``sent``, or ``dead`` after the last attempt
    (``FLAGWARD_DELIVERY_MAX_ATTEMPTS``) or a refusal that no retry can mend; with its attempts, its last
    error and the HTTP status of the last answer."""
    items, total = service.list_deliveries(deps, actor=actor, webhook_id=id, page=page)
    return collection(f"{PATH}/{id}/deliveries", [_delivery(m) for m in items], total, page)
