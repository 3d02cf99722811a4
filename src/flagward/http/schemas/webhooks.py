"""Webhooks: LaunchDarkly's ``webhookPost``/``Webhook``/``Webhooks`` and flagward's own delivery log."""

from __future__ import annotations

from pydantic import Field, StrictBool, StrictStr

from flagward.http.schemas.common import Body
from flagward.http.schemas.read_common import Access, Links, Maybe, Read
from flagward.services.webhooks import NewWebhook


class StatementPost(Body):
    """A policy statement: ``effect`` with either ``resources`` or ``notResources`` and either ``actions``
    or ``notActions`` (resource specifiers such as ``proj/*:env/production:flag/*;mobile``)."""

    effect: StrictStr = Field(json_schema_extra={"enum": ["allow", "deny"]})
    resources: list[StrictStr] | None = None
    notResources: list[StrictStr] | None = None
    actions: list[StrictStr] | None = None
    notActions: list[StrictStr] | None = None


class webhookPost(Body):  # noqa: N801  # LaunchDarkly's component name
    name: StrictStr | None = Field(default=None, description="A human-readable name for your webhook")
    url: StrictStr = Field(description="The URL of the remote webhook")
    secret: StrictStr | None = Field(
        default=None, description="If sign is true, and the secret attribute is omitted, a secret is generated"
    )
    statements: list[StatementPost] | None = Field(
        default=None, description="Which audit-log entries are delivered; none: every entry"
    )
    sign: StrictBool = Field(description="Whether deliveries carry X-LD-Signature, the HMAC-SHA256 of the body")
    on: StrictBool = Field(description="Whether or not this webhook is enabled")
    tags: list[StrictStr] | None = Field(default=None, description="List of tags for this webhook")

    def to_domain(self) -> NewWebhook:
        statements = None
        if self.statements is not None:
            statements = [s.model_dump(exclude_none=True) for s in self.statements]
        return NewWebhook(
            url=self.url,
            sign=self.sign,
            on=self.on,
            name=self.name,
            secret=self.secret,
            tags=list(self.tags or []),
            statements=statements,
        )


class Statement(Read):
    effect: str
    resources: Maybe[list[str]] = None
    notResources: Maybe[list[str]] = None
    actions: Maybe[list[str]] = None
    notActions: Maybe[list[str]] = None


class Webhook(Read):
    links: Links = Field(alias="_links")
    id: str = Field(alias="_id")
    name: Maybe[str] = None
    url: str
    secret: Maybe[str] = Field(default=None, description="Shown to owners and admins only")
    statements: Maybe[list[Statement]] = None
    on: bool
    tags: list[str]
    access: Maybe[Access] = Field(default=None, alias="_access")
    sign: Maybe[bool] = Field(default=None, description="flagward: whether deliveries are signed")


class Webhooks(Read):
    links: Links = Field(alias="_links")
    items: list[Webhook]


class WebhookDelivery(Read):
    """flagward's own: one audit-log entry on its way to a webhook."""

    id: str = Field(alias="_id", description="The delivery's id, sent as X-Flagward-Delivery on each attempt")
    entryId: str = Field(description="The audit-log entry delivered")
    status: str = Field(description="pending (waiting or being sent), sent, or dead (given up)")
    attempts: int
    lastError: Maybe[str] = None
    responseCode: Maybe[int] = Field(default=None, description="The HTTP status of the last answer")
    creationDate: int
    nextAttemptDate: Maybe[int] = Field(default=None, description="When a pending delivery is tried next")
    deliveredDate: Maybe[int] = None


class WebhookDeliveries(Read):
    items: list[WebhookDelivery]
    totalCount: int
    links: Links = Field(alias="_links")
