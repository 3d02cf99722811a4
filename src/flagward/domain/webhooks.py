"""Webhooks: LaunchDarkly's audit-log webhooks. Each audit entry a webhook's ``statements`` policy
matches (``flagward.domain.policy``; no statements: every entry) is posted to its URL, signed with its
secret when ``sign`` is on (``X-LD-Signature``: hex HMAC-SHA256 of the body).

Which addresses a webhook may reach is decided here too (:func:`refusal`): by default only globally
routable unicast ones, so that whoever can create a webhook cannot make flagward call the cloud
metadata service, the database or anything else on its private network.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from flagward.domain.errors import InvalidRequest
from flagward.domain.ids import check_name_length
from flagward.domain.policy import Statement, allows_any

SIGNATURE_HEADER = "X-LD-Signature"
DELIVERY_HEADER = "X-Flagward-Delivery"  # the outbox message id: the same on every attempt
MAX_URL_LENGTH = 2048


@dataclass
class Webhook:
    id: str
    url: str
    secret: str
    sign: bool
    on: bool
    creation_date: int
    name: str | None = None
    tags: list[str] = field(default_factory=list)
    statements: tuple[Statement, ...] = ()
    version: int = 1

    def validate(self) -> None:
        target_of(self.url)
        if self.name is not None:
            if not isinstance(self.name, str):
                raise InvalidRequest("name must be a string")
            check_name_length(self.name)
        for name in ("sign", "on"):
            if not isinstance(getattr(self, name), bool):
                raise InvalidRequest(f"{name} must be a boolean")
        if not isinstance(self.tags, list) or not all(isinstance(t, str) and t for t in self.tags):
            raise InvalidRequest("tags must be a list of non-empty strings")
        if not isinstance(self.secret, str) or (self.sign and not self.secret):
            raise InvalidRequest("secret must be a non-empty string when sign is true")

    def wants(self, accesses: Iterable[tuple[str, Any]]) -> bool:
        """Whether an audit entry with these ``(action, resource)`` accesses is delivered to this webhook."""
        if not self.on:
            return False
        return not self.statements or allows_any(self.statements, accesses)


@dataclass(frozen=True)
class Target:
    scheme: str  # http | https
    host: str  # a name or an IP address literal, without brackets
    port: int


def target_of(url: object) -> Target:
    """The scheme, host and port a webhook URL names; raises InvalidRequest unless it is an absolute
    http(s) URL with a host and no credentials."""
    if not isinstance(url, str) or not url or len(url) > MAX_URL_LENGTH:
        raise InvalidRequest("url must be an http or https URL")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise InvalidRequest(f"url is not a valid URL: {exc}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidRequest("url must be an http or https URL with a host")
    if parts.username is not None or parts.password is not None:
        raise InvalidRequest("url must not carry credentials; sign the webhook with its secret instead")
    return Target(parts.scheme, parts.hostname, port or (443 if parts.scheme == "https" else 80))


def refusal(address: str) -> str | None:
    """Why a webhook may not reach ``address`` (an IP address), or None when it may: only globally
    routable unicast addresses are allowed (IPv4-mapped IPv6 addresses are judged as the IPv4 address)."""
    try:
        ip: ipaddress.IPv4Address | ipaddress.IPv6Address = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return f"'{address}' is not an IP address"
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    for reason, flagged in (
        ("unspecified", ip.is_unspecified),
        ("loopback", ip.is_loopback),
        ("link-local", ip.is_link_local),
        ("multicast", ip.is_multicast),
        ("private", ip.is_private),
        ("reserved", ip.is_reserved),
    ):
        if flagged:
            return f"{ip} is a {reason} address"
    if not ip.is_global:
        return f"{ip} is not a globally routable address"
    return None


def ip_literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return False
    return True


def webhook_document(webhook: Webhook, *, with_secret: bool) -> dict[str, Any]:
    """LaunchDarkly's ``Webhook`` (without links). The secret only with ``with_secret``: the audit log,
    which readers and other webhooks see, never carries it."""
    doc: dict[str, Any] = {
        "_id": webhook.id,
        "url": webhook.url,
        "on": webhook.on,
        "sign": webhook.sign,
        "tags": list(webhook.tags),
        "statements": [s.document() for s in webhook.statements],
    }
    if webhook.name is not None:
        doc["name"] = webhook.name
    if with_secret and webhook.secret:
        doc["secret"] = webhook.secret
    return doc
