"""Delivery: the only code that talks to the outside world about changes. The services write outbox
messages in the unit of work of the change (``flagward.domain.outbox``); the :class:`Dispatcher` that
runs in every server process claims them, hands each to the transport of its kind (``services.ports.
Transport``: SMTP today; webhooks and external approval services plug in as further kinds) and records
what happened. Transports are synchronous (stdlib ``smtplib``, an HTTP client) and run in worker threads,
like the store they share the process with."""

from flagward.delivery.dispatcher import Dispatcher, Doorbell
from flagward.delivery.external_approvals import Caller, ExternalApprovalTransport, StatusPoller
from flagward.delivery.smtp import SmtpTransport
from flagward.delivery.webhooks import SocketResolver, WebhookTransport

__all__ = [
    "Caller",
    "Dispatcher",
    "Doorbell",
    "ExternalApprovalTransport",
    "SmtpTransport",
    "SocketResolver",
    "StatusPoller",
    "WebhookTransport",
]
