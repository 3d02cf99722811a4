"""The transactional outbox: messages to the outside world (e-mail, webhook deliveries, calls to external
approval services) written in the same transaction as the change that causes them, and delivered
afterwards by the dispatcher (``flagward.delivery``), at least once and, as far as a receiver that keeps
the message's id can tell, exactly once.

A message's life: ``pending`` (waiting for its ``next_attempt_at``, or claimed by a dispatcher until its
lease ends) -> ``sent``, or -> ``dead`` after :attr:`RetryPolicy.max_attempts` failed attempts or one
permanent failure, keeping its last error. A lease that ends without an outcome (the process was killed
mid-delivery) makes the message claimable again; its ``attempts`` already counted that try.

Kinds are open strings: a kind is a payload contract between the service that enqueues and the
transport that sends (``flagward.delivery``). Messages sharing an ``ordering_key`` (a webhook's deliveries)
are delivered one at a time, in the order they were enqueued.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class MessageStatus(StrEnum):
    PENDING = "pending"
    SENT = "sent"
    DEAD = "dead"


class MessageKind(StrEnum):
    """The kinds flagward enqueues today; webhooks and external approval calls add theirs."""

    EMAIL = "email"
    EXTERNAL_APPROVAL = "externalApproval"  # create an approval request's record in an external service
    WEBHOOK = "webhook"  # payload {entryId, body}: an audit entry for webhook ``target``


@dataclass(frozen=True)
class NewMessage:
    """What a service enqueues (``uow.outbox.add``)."""

    kind: str
    payload: dict[str, Any]
    target: str | None = None  # what the message is for (a member id, a webhook id): delivery logs filter on it
    ordering_key: str | None = None  # same key: one at a time, in order


@dataclass
class OutboxMessage:
    """A stored message. ``id`` is its idempotency key: every attempt carries it (an e-mail's Message-ID,
    a webhook's delivery header), so a receiver that saw it before can tell a repeat."""

    id: str
    seq: int
    kind: str
    payload: dict[str, Any]
    created_at: int
    next_attempt_at: int
    target: str | None = None
    ordering_key: str | None = None
    status: MessageStatus = MessageStatus.PENDING
    attempts: int = 0
    last_error: str | None = None
    last_status_code: int | None = None
    delivered_at: int | None = None
    lease_owner: str | None = None
    lease_until: int | None = None


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with jitter: attempt ``n`` failed -> wait between half and all of
    ``min(cap, base * 2**(n-1))``, so that a receiver coming back is not hit by every sender at once."""

    max_attempts: int = 8
    base_ms: int = 5_000
    cap_ms: int = 3_600_000

    def delay_ms(self, attempts: int, jitter: float) -> int:
        """``jitter`` in [0, 1)."""
        full = min(self.cap_ms, self.base_ms * 2 ** max(0, attempts - 1))
        return int(full / 2 + full / 2 * jitter)

    def next_attempt_at(self, attempts: int, now: int, jitter: float) -> int | None:
        """When to try again after ``attempts`` failed attempts; None: give up (the message is dead)."""
        if attempts >= self.max_attempts:
            return None
        return now + self.delay_ms(attempts, jitter)


@dataclass(frozen=True)
class Failure:
    """Why an attempt failed; ``permanent`` failures (a refused recipient) are not retried."""

    error: str
    permanent: bool = False
    status_code: int | None = None


@dataclass(frozen=True)
class OutboxStats:
    """What ``/readyz`` shows: ``due`` messages waiting now (and since when), messages ``retrying`` after a
    failure, and ``dead`` ones."""

    pending: int
    due: int
    retrying: int
    dead: int
    oldest_due_ms: int | None  # how long the oldest due message has waited (the dispatcher's lag)
