"""The caller's in-app notifications (``/api/v2/notifications``): list them, mark them read. Only
members have notifications; a service token has none (an empty list)."""

from __future__ import annotations

from collections.abc import Sequence

from flagward.domain.accounts import Actor
from flagward.domain.errors import InvalidRequest
from flagward.domain.notifications import Notification
from flagward.services.ports import Deps, Page


def list_notifications(
    deps: Deps, *, actor: Actor, unread_only: bool, page: Page
) -> tuple[list[Notification], int, int]:
    """The caller's notifications, newest first: ``(items, total matching, unread count)``."""
    if actor.member_id is None:
        return [], 0, 0
    with deps.uow(write=False) as uow:
        items, total = uow.notifications.find(actor.member_id, unread_only=unread_only, page=page)
        return items, total, uow.notifications.unread_count(actor.member_id)


def unread_count(deps: Deps, *, actor: Actor) -> int:
    """How many of the caller's notifications are unread (the console's top bar shows it on every page)."""
    if actor.member_id is None:
        return 0
    with deps.uow(write=False) as uow:
        return uow.notifications.unread_count(actor.member_id)


def mark_read(deps: Deps, *, actor: Actor, ids: Sequence[str] | None) -> int:
    """Mark the caller's notifications ``ids`` read (None: all of them); how many were unread. Ids that
    are not the caller's are ignored. Raises InvalidRequest (ids not a list of strings)."""
    if ids is not None and (not isinstance(ids, list) or not all(isinstance(i, str) for i in ids)):
        raise InvalidRequest("ids must be a list of notification ids")
    if actor.member_id is None:
        return 0
    with deps.uow() as uow:
        marked = uow.notifications.mark_read(actor.member_id, ids, now=deps.clock.now_ms())
        uow.commit()
    return marked
