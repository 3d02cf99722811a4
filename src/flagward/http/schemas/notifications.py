"""flagward's own: the caller's in-app notifications (``/api/v2/notifications``)."""

from __future__ import annotations

from pydantic import Field, StrictStr

from flagward.http.schemas.common import Body
from flagward.http.schemas.read_common import Links, Maybe, Read


class NotificationRep(Read):
    id: str = Field(alias="_id")
    kind: str = Field(
        description="What happened to the approval request: requested (your review), approved, declined, "
        "applied, failed, executed (applied on schedule) or deleted"
    )
    title: str
    body: str = Field(description="What the request changes, in words")
    creationDate: int
    read: bool
    readDate: Maybe[int] = None
    approvalRequestId: Maybe[str] = None
    links: Links = Field(alias="_links")


class NotificationsRep(Read):
    items: list[NotificationRep]
    totalCount: int
    unreadCount: int = Field(description="The caller's unread notifications, whatever the filter")
    links: Links = Field(alias="_links")


class MarkReadBody(Body):
    ids: list[StrictStr] | None = Field(
        default=None, description="The notifications to mark read; absent: all of the caller's"
    )


class MarkedReadRep(Read):
    marked: int = Field(description="How many unread notifications were marked read")
    unreadCount: int
