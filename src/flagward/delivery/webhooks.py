"""Webhook deliveries over HTTP(S) (stdlib ``http.client``, in the dispatcher's worker threads).

Each attempt reads the webhook as it is now (a changed URL or secret applies to deliveries still
waiting; a deleted or switched-off webhook gives them up), resolves its host, refuses the addresses
webhooks may not reach (``domain.webhooks.refusal``, unless private addresses are allowed) and connects
to the address it checked, so that a name that resolves differently a moment later (DNS rebinding)
cannot slip past the check. Redirects are not followed: a 3xx is a failed attempt like any non-2xx.
"""

from __future__ import annotations

import http.client
import socket
import ssl
from urllib.parse import urlsplit

from flagward.domain.errors import InvalidRequest
from flagward.domain.outbox import Failure, OutboxMessage
from flagward.domain.signing import sign
from flagward.domain.webhooks import DELIVERY_HEADER, SIGNATURE_HEADER, Target, refusal, target_of
from flagward.services.ports import DeliveryFailed, Deps
from flagward.services.webhooks import webhook_for_delivery

USER_AGENT = "flagward-webhooks/1"
_MAX_ERROR_BODY = 200


class SocketResolver:
    """``HostResolver`` over ``getaddrinfo``: the host's addresses, in the order the system prefers."""

    def resolve(self, host: str, port: int) -> list[str]:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        return list(dict.fromkeys(str(info[4][0]) for info in infos))


class _PinnedHTTPConnection(http.client.HTTPConnection):
    """Connects to ``address`` whatever ``host`` resolves to now; ``host`` still names the server in
    the ``Host`` header."""

    def __init__(self, host: str, port: int, address: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self.address = address

    def connect(self) -> None:
        self.sock = socket.create_connection((self.address, self.port), self.timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    """As :class:`_PinnedHTTPConnection`, with TLS whose certificate must name ``host``."""

    def __init__(self, host: str, port: int, address: str, timeout: float, context: ssl.SSLContext) -> None:
        super().__init__(host, port, timeout=timeout, context=context)
        self.address = address
        self.tls = context

    def connect(self) -> None:
        raw = socket.create_connection((self.address, self.port), self.timeout)
        self.sock = self.tls.wrap_socket(raw, server_hostname=self.host)


class WebhookTransport:
    """The transport of ``webhook`` messages: payload ``{entryId, body}``, target the webhook's id."""

    def __init__(
        self, deps: Deps, *, allow_private: bool = False, timeout: float = 10.0, resolver: SocketResolver | None = None
    ) -> None:
        self.deps = deps
        self.allow_private = allow_private
        self.timeout = timeout
        self.resolver = resolver or SocketResolver()
        self.tls = ssl.create_default_context()

    def send(self, message: OutboxMessage) -> int | None:
        webhook = webhook_for_delivery(self.deps, message.target or "")
        if webhook is None:
            raise DeliveryFailed(Failure("the webhook was deleted", permanent=True))
        if not webhook.on:
            raise DeliveryFailed(Failure("the webhook is off", permanent=True))
        try:
            target = target_of(webhook.url)
        except InvalidRequest as exc:
            raise DeliveryFailed(Failure(exc.message, permanent=True)) from None
        body = str(message.payload["body"]).encode()
        headers = {
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            DELIVERY_HEADER: message.id,
        }
        if webhook.sign and webhook.secret:
            headers[SIGNATURE_HEADER] = sign(webhook.secret, body)
        return self._post(target, _path(webhook.url), body, headers)

    def address(self, target: Target) -> str:
        """The address to connect to: the first the host resolves to, once every one of them passed."""
        try:
            addresses = self.resolver.resolve(target.host, target.port)
        except OSError as exc:
            raise DeliveryFailed(Failure(f"cannot resolve {target.host}: {exc}")) from None
        if not addresses:
            raise DeliveryFailed(Failure(f"{target.host} has no address"))
        if not self.allow_private:
            for address in addresses:
                reason = refusal(address)
                if reason is not None:
                    raise DeliveryFailed(Failure(f"refused to reach {target.host}: {reason}", permanent=True))
        return addresses[0]

    def _post(self, target: Target, path: str, body: bytes, headers: dict[str, str]) -> int:
        address = self.address(target)
        connection: http.client.HTTPConnection
        if target.scheme == "https":
            connection = _PinnedHTTPSConnection(target.host, target.port, address, self.timeout, self.tls)
        else:
            connection = _PinnedHTTPConnection(target.host, target.port, address, self.timeout)
        try:
            connection.request("POST", path, body=body, headers=headers)
            response = connection.getresponse()
            excerpt = response.read(_MAX_ERROR_BODY).decode(errors="replace")
        except (OSError, http.client.HTTPException) as exc:  # refused, timed out, reset, garbled
            raise DeliveryFailed(Failure(f"{type(exc).__name__}: {exc}")) from None
        finally:
            connection.close()
        if not 200 <= response.status < 300:
            what = "redirects are not followed" if 300 <= response.status < 400 else excerpt.strip()
            raise DeliveryFailed(Failure(f"HTTP {response.status}: {what}"[:500], status_code=response.status))
        return response.status


def _path(url: str) -> str:
    parts = urlsplit(url)
    return (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
