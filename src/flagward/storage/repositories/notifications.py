"""Members' in-app notifications."""

from __future__ import annotations

import typing
from collections.abc import Collection

from sqlalchemy import Table, insert, select, update
from sqlalchemy.orm import Session

from flagward.domain.notifications import Notification, RequestEvent
from flagward.services.ports import Page
from flagward.storage.records import NotificationRecord
from flagward.storage.repositories._common import count

_TABLE = typing.cast(Table, NotificationRecord.__table__)
_INSERT = insert(_TABLE)


def _notification(record: NotificationRecord) -> Notification:
    return Notification(
        id=record.id,
        member_id=record.member_id,
        event=RequestEvent(record.event),
        title=record.title,
        body=record.body,
        created_at=record.created_at,
        approval_request_id=record.approval_request_id,
        link=record.link,
        read_at=record.read_at,
    )


class SqlNotifications:
    def __init__(self, session: Session) -> None:
        self._session = session

    def add(self, notification: Notification) -> None:
        n = notification
        row = {
            "id": n.id,
            "member_id": n.member_id,
            "event": n.event.value,
            "title": n.title,
            "body": n.body,
            "created_at": n.created_at,
            "approval_request_id": n.approval_request_id,
            "link": n.link,
            "read_at": n.read_at,
        }
        self._session.execute(_INSERT, row)  # a Core statement built once: the row is never read back here

    def find(self, member_id: str, *, unread_only: bool, page: Page) -> tuple[list[Notification], int]:
        statement = select(NotificationRecord).where(NotificationRecord.member_id == member_id)
        if unread_only:
            statement = statement.where(NotificationRecord.read_at.is_(None))
        total = count(self._session, statement)
        ordered = statement.order_by(NotificationRecord.created_at.desc(), NotificationRecord.id.desc())
        records = self._session.scalars(ordered.limit(page.limit).offset(page.offset))
        return [_notification(r) for r in records], total

    def unread_count(self, member_id: str) -> int:
        statement = select(NotificationRecord.id).where(
            NotificationRecord.member_id == member_id, NotificationRecord.read_at.is_(None)
        )
        return count(self._session, statement)

    def mark_read(self, member_id: str, ids: Collection[str] | None, *, now: int) -> int:
        statement = update(NotificationRecord).where(
            NotificationRecord.member_id == member_id, NotificationRecord.read_at.is_(None)
        )
        if ids is not None:
            statement = statement.where(NotificationRecord.id.in_(list(ids)))
        return int(getattr(self._session.execute(statement.values(read_at=now)), "rowcount", 0) or 0)
