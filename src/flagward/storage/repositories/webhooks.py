"""Webhooks."""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from flagward.domain.policy import parse_statements
from flagward.domain.webhooks import Webhook
from flagward.storage.records import WebhookRecord


def _webhook(record: WebhookRecord) -> Webhook:
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


class SqlWebhooks:
    def __init__(self, session: Session) -> None:
        self._session = session

    def get(self, webhook_id: str, *, for_update: bool = False) -> Webhook | None:
        statement = select(WebhookRecord).where(WebhookRecord.id == webhook_id)
        if for_update:
            statement = statement.with_for_update()
        record = self._session.scalar(statement)
        return _webhook(record) if record else None

    def list_all(self) -> list[Webhook]:
        """Oldest first."""
        records = self._session.scalars(select(WebhookRecord).order_by(WebhookRecord.creation_date, WebhookRecord.id))
        return [_webhook(r) for r in records]

    def add(self, webhook: Webhook) -> None:
        record = WebhookRecord(id=webhook.id, creation_date=webhook.creation_date)
        _fill(record, webhook)
        self._session.add(record)

    def update(self, webhook: Webhook) -> None:
        record = self._session.get(WebhookRecord, webhook.id)
        if record is not None:
            _fill(record, webhook)

    def delete(self, webhook: Webhook) -> None:
        self._session.execute(delete(WebhookRecord).where(WebhookRecord.id == webhook.id))
