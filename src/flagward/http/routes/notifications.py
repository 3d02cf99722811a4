"""flagward's own: the caller's in-app notifications about approval requests."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Query

from flagward.domain.notifications import Notification, request_api_path, request_page
from flagward.http.deps import ActorDep, DepsDep, PageDep
from flagward.http.links import collection, link
from flagward.http.routes._responses import returns
from flagward.http.routes._router import api_router
from flagward.http.schemas.notifications import MarkedReadRep, MarkReadBody, NotificationsRep
from flagward.services import notifications as service
from flagward.services.ports import Page

router = api_router(tags=["Notifications (flagward)"])
PATH = "/api/v2/notifications"


def _rep(n: Notification) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "_id": n.id,
        "kind": n.event.value,
        "title": n.title,
        "body": n.body,
        "creationDate": n.created_at,
        "read": n.read_at is not None,
        "_links": {"self": link(f"{PATH}/{n.id}")},
    }
    if n.read_at is not None:
        doc["readDate"] = n.read_at
    if n.approval_request_id is not None:
        doc["approvalRequestId"] = n.approval_request_id
        # The request in this API, and its page in the console (``site``, as LaunchDarkly names UI links).
        doc["_links"]["approvalRequest"] = link(request_api_path(n.approval_request_id))
        doc["_links"]["site"] = link(request_page(n.approval_request_id), "text/html")
    return doc


@router.get(PATH, summary="List the caller's notifications", **returns(NotificationsRep))
def list_notifications(
    actor: ActorDep,
    deps: DepsDep,
    page: PageDep,
    unread: Annotated[bool, Query(description="Only the unread ones")] = False,
) -> dict[str, Any]:
    """The caller's notifications about approval requests, newest first (a service token has none)."""
    items, total, unread_count = service.list_notifications(deps, actor=actor, unread_only=unread, page=page)
    query = {"unread": "true" if unread else None}
    result = collection(PATH, [_rep(n) for n in items], total, page, query)
    result["unreadCount"] = unread_count
    return result


@router.post(f"{PATH}/read", summary="Mark the caller's notifications read", **returns(MarkedReadRep))
def mark_read(actor: ActorDep, deps: DepsDep, body: MarkReadBody | None = None) -> dict[str, Any]:
    """Mark ``ids`` read, or every notification of the caller when the body names none."""
    marked = service.mark_read(deps, actor=actor, ids=None if body is None else body.ids)
    _, _, unread_count = service.list_notifications(deps, actor=actor, unread_only=True, page=_ONE)
    return {"marked": marked, "unreadCount": unread_count}


_ONE = Page(limit=1)
