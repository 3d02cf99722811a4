"""Webhooks."""

from __future__ import annotations

import copy
import typing
from typing import Any

from sqlalchemy import Table, delete, select
from sqlalchemy.orm import Session

from flagward.domain.policy import parse_statements
from flagward.domain.webhooks import Webhook
from flagward.storage.records import WebhookRecord
from flagward.storage.repositories._common import execute_flushed

_TABLE = typing.cast(Table, WebhookRecord.__table__)


def _webhook(record: Any) -> Webhook:
    """``record``: a WebhookRecord, or a Core row of the table (its columns carry the same names)."""
    return Webhook(
        id=record.id,
        name=record.name,
        url=record.url,
        secret=record.secret,
        sign=record.sign,
        on=record.on,
        tags=list(record.tags),
        statements=parse_statements(record.statements),
        creation_date=record.creation_date,
        version=record.version,
    )


def _fill(record: WebhookRecord, webhook: Webhook) -> None:
    record.name = webhook.name
    record.url = webhook.url
    record.secret = webhook.secret
    record.sign = webhook.sign
    record.on = webhook.on
    record.tags = list(webhook.tags)
    record.statements = [s.document() for s in webhook.statements]
    record.version = webhook.version


# Built once, and Core: every audited write lists the webhooks, and there are usually none or a few.
_ALL = select(_TABLE).order_by(_TABLE.c.creation_date, _TABLE.c.id)


class SqlWebhooks:
    def __init__(self, session: Session) -> None:
        self._session = session
        # list_all's answer for the current transaction: every audit entry a transaction appends asks
        # for the webhooks (webhook_fanout), and they change only through this repository.
        self._listed: tuple[object, list[Webhook]] | None = None

    def get(self, webhook_id: str, *, for_update: bool = False) -> Webhook | None:
        statement = select(WebhookRecord).where(WebhookRecord.id == webhook_id)
        if for_update:
            statement = statement.with_for_update()
        record = self._session.scalar(statement)
        return _webhook(record) if record else None

    def list_all(self) -> list[Webhook]:
        """Oldest first."""
        transaction = self._session.get_transaction()
        if self._listed is not None and self._listed[0] is transaction and transaction is not None:
            return [copy.deepcopy(w) for w in self._listed[1]]
        webhooks = [_webhook(row) for row in execute_flushed(self._session, _ALL)]
        self._listed = (self._session.get_transaction(), webhooks)
        return [copy.deepcopy(w) for w in webhooks]

    def add(self, webhook: Webhook) -> None:
        self._listed = None
        record = WebhookRecord(id=webhook.id, creation_date=webhook.creation_date)
        _fill(record, webhook)
        self._session.add(record)

    def update(self, webhook: Webhook) -> None:
        self._listed = None
        record = self._session.get(WebhookRecord, webhook.id)
        if record is not None:
            _fill(record, webhook)

    def delete(self, webhook: Webhook) -> None:
        self._listed = None
        self._session.execute(delete(WebhookRecord).where(WebhookRecord.id == webhook.id))
