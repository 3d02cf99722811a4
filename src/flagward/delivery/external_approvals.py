"""Calls to external approval services (``flagward.domain.approval_services``): the transport that creates
the external record (outbox kind ``externalApproval``) and the poller that reads its status when no
callback came. Both sign what they send like the callback flagward accepts: ``X-Flagward-Timestamp``
(Unix seconds) and ``X-Flagward-Signature`` (hex HMAC-SHA256 of ``<timestamp>.<body>``).

Stdlib ``urllib`` in worker threads, like the SMTP transport. Redirects are not followed and proxies
from the environment are not used: the address checked is the address called. Unless
``FLAGWARD_WEBHOOK_ALLOW_PRIVATE`` is set, the host's resolved addresses must all be public.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import socket
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from ipaddress import ip_address
from typing import Any
from urllib.parse import quote, urlsplit

from anyio import to_thread

from flagward.domain.approval_services import check_endpoint, public_address
from flagward.domain.errors import DomainError
from flagward.domain.outbox import Failure, OutboxMessage
from flagward.domain.signing import sign_timestamped
from flagward.services import external_approvals
from flagward.services.ports import DeliveryFailed, Deps, StoreUnavailable

log = logging.getLogger("flagward.external_approvals")

TIMESTAMP_HEADER = "X-Flagward-Timestamp"
SIGNATURE_HEADER = "X-Flagward-Signature"
DELIVERY_HEADER = "X-Flagward-Delivery"  # the outbox message id: the same on every attempt
_RETRYABLE_4XX = {408, 409, 425, 429}


class Refused(Exception):
    """The endpoint may not be called (not https, or a non-public address)."""


@dataclass(frozen=True)
class Caller:
    """Signed JSON calls to one kind of endpoint."""

    secrets: Callable[[str], str | None]
    allow_private: bool = False
    timeout: float = 10.0

    def call(self, method: str, url: str, secret_env: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
        """Send and return ``(status, body)`` for any HTTP status. Raises Refused, LookupError (no secret),
        OSError (the connection failed or timed out)."""
        self.check(url)
        secret = self.secrets(secret_env)
        if not secret:
            raise LookupError(f"the shared secret is not set: environment variable {secret_env}")
        timestamp = int(time.time())
        request = urllib.request.Request(url, data=body if method != "GET" else None, method=method)
        for name, value in {
            **headers,
            "Content-Type": "application/json",
            "Accept": "application/json",
            "User-Agent": "flagward",
            TIMESTAMP_HEADER: str(timestamp),
            SIGNATURE_HEADER: sign_timestamped(secret, timestamp, body),
        }.items():
            request.add_header(name, value)
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}), _NoRedirects())
        try:
            with opener.open(request, timeout=self.timeout) as response:
                return int(response.status), bytes(response.read())
        except urllib.error.HTTPError as exc:
            return int(exc.code), bytes(exc.read() or b"")

    def check(self, url: str) -> None:
        try:
            check_endpoint(url, allow_private=self.allow_private)
        except DomainError as exc:
            raise Refused(exc.message) from None
        if self.allow_private:
            return
        parts = urlsplit(url)
        infos = socket.getaddrinfo(parts.hostname or "", parts.port or 443, proto=socket.IPPROTO_TCP)
        for info in infos:
            if not public_address(ip_address(str(info[4][0]).split("%")[0])):
                raise Refused(f"{url}: resolves to {info[4][0]}, a non-public address")


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None  # a 3xx is the answer: a redirect would reach an address that was not checked


class ExternalApprovalTransport:
    """Outbox kind ``externalApproval``: payload ``{requestId, url, secretEnv, body}``. POSTs ``body`` to
    ``url``; a 2xx answer ``{externalId, externalUrl?, status?}`` is recorded on the request before the
    message counts as sent (a crash in between sends it again, with the same ``X-Flagward-Delivery``)."""

    def __init__(self, deps: Deps, caller: Caller) -> None:
        self.deps = deps
        self.caller = caller

    def send(self, message: OutboxMessage) -> int | None:
        payload = message.payload
        body = json.dumps(payload["body"], separators=(",", ":")).encode()
        try:
            status, answer = self.caller.call(
                "POST", payload["url"], payload["secretEnv"], body, {DELIVERY_HEADER: message.id}
            )
        except Refused as exc:
            raise DeliveryFailed(Failure(str(exc), permanent=True)) from exc
        except (LookupError, OSError) as exc:
            raise DeliveryFailed(Failure(f"{type(exc).__name__}: {exc}")) from exc
        if not 200 <= status < 300:
            permanent = 400 <= status < 500 and status not in _RETRYABLE_4XX
            raise DeliveryFailed(Failure(f"HTTP {status}: {answer[:200]!r}", permanent=permanent, status_code=status))
        try:
            external_approvals.record_created(self.deps, request_id=payload["requestId"], response=json.loads(answer))
        except ValueError as exc:
            raise DeliveryFailed(Failure(f"the answer is not JSON: {exc}", permanent=True, status_code=status)) from exc
        except DomainError as exc:
            failure = Failure(f"unexpected answer: {exc.message}", permanent=True, status_code=status)
            raise DeliveryFailed(failure) from exc
        return status


class StatusPoller:
    """Reads the status of open requests linked to an external record every ``interval_seconds`` (the
    fallback when a callback is lost), and settles what it finds like a callback."""

    def __init__(
        self, deps: Deps, caller: Caller, *, interval_seconds: float, tick_seconds: float | None = None
    ) -> None:
        self.deps = deps
        self.caller = caller
        self.interval_ms = int(interval_seconds * 1000)
        self.tick_seconds = tick_seconds if tick_seconds is not None else min(interval_seconds, 30.0)

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await to_thread.run_sync(self.poll_once)
            except StoreUnavailable as exc:
                log.warning("external approvals: store unavailable: %s", exc)
            except Exception:  # one bad answer must not stop polling every other request
                log.exception("external approvals: unexpected error while polling")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=self.tick_seconds)

    def poll_once(self) -> int:
        """Check every request due for a check; how many were checked."""
        checks = external_approvals.claim_checks(self.deps, interval_ms=self.interval_ms)
        for check in checks:
            self.check(check)
        return len(checks)

    def check(self, check: external_approvals.StatusCheck) -> None:
        url = f"{check.url.rstrip('/')}/{quote(check.external_id, safe='')}"
        try:
            status, answer = self.caller.call("GET", url, check.secret_env, b"", {})
            if not 200 <= status < 300:
                log.warning("external approvals: %s answered HTTP %d", url, status)
                return
            external_approvals.record_polled(self.deps, check, json.loads(answer))
        except (Refused, LookupError, OSError, ValueError) as exc:
            log.warning("external approvals: reading %s failed: %s", url, exc)
        except DomainError as exc:
            log.warning("external approvals: unexpected answer from %s: %s", url, exc.message)
