"""E-mail over SMTP (stdlib ``smtplib``, in the dispatcher's worker threads: the sends are few and
short, and a blocking client keeps the transport as simple as the store it shares the thread pool with).

``FLAGWARD_SMTP_URL``: ``smtp://[user:password@]host[:port]`` (port 25 by default; STARTTLS when the
server offers it, and then the certificate is checked) or ``smtps://…`` (TLS from the first byte, port
465 by default). Credentials are percent-decoded. Every attempt at one message carries the same
Message-ID, the message's outbox id, so a mail system that saw it already can tell a repeat.
"""

from __future__ import annotations

import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, parseaddr
from urllib.parse import unquote, urlsplit

from flagward.domain.outbox import Failure, OutboxMessage
from flagward.services.ports import DeliveryFailed


@dataclass(frozen=True)
class SmtpServer:
    host: str
    port: int
    tls: bool  # smtps: TLS from the start
    username: str | None = None
    password: str | None = None


def parse_smtp_url(url: str) -> SmtpServer:
    """Raises ValueError for anything but ``smtp://`` or ``smtps://`` with a host."""
    parts = urlsplit(url)
    if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
        raise ValueError("FLAGWARD_SMTP_URL must look like smtp://user:password@host:port or smtps://…")
    tls = parts.scheme == "smtps"
    return SmtpServer(
        host=parts.hostname,
        port=parts.port or (465 if tls else 25),
        tls=tls,
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
    )


class SmtpTransport:
    """The transport of ``email`` messages: payload ``{to: [address], subject, text, html}``."""

    def __init__(self, url: str, sender: str, *, timeout: float = 30.0) -> None:
        self.server = parse_smtp_url(url)
        self.sender = sender
        self.timeout = timeout

    def compose(self, message: OutboxMessage) -> EmailMessage:
        payload = message.payload
        mail = EmailMessage()
        mail["From"] = self.sender
        mail["To"] = ", ".join(payload["to"])
        mail["Subject"] = payload["subject"]
        mail["Date"] = formatdate(message.created_at / 1000, localtime=False)
        domain = parseaddr(self.sender)[1].rpartition("@")[2] or "flagward"
        mail["Message-ID"] = f"<{message.id}@{domain}>"
        mail.set_content(payload["text"])
        mail.add_alternative(payload["html"], subtype="html")
        return mail

    def send(self, message: OutboxMessage) -> int | None:
        mail = self.compose(message)
        try:
            with self._connect() as client:
                client.send_message(mail, from_addr=parseaddr(self.sender)[1], to_addrs=message.payload["to"])
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _ in exc.recipients.values()]
            raise DeliveryFailed(
                Failure(f"recipients refused: {exc.recipients}", permanent=all(c >= 500 for c in codes))
            ) from exc
        except smtplib.SMTPResponseException as exc:
            text = exc.smtp_error.decode(errors="replace") if isinstance(exc.smtp_error, bytes) else str(exc.smtp_error)
            raise DeliveryFailed(
                Failure(f"SMTP {exc.smtp_code}: {text}", permanent=exc.smtp_code >= 500, status_code=exc.smtp_code)
            ) from exc
        except (OSError, smtplib.SMTPException) as exc:  # refused, timed out, dropped: try again later
            raise DeliveryFailed(Failure(f"{type(exc).__name__}: {exc}")) from exc
        return 250

    def _connect(self) -> smtplib.SMTP:
        server = self.server
        context = ssl.create_default_context()
        client: smtplib.SMTP
        if server.tls:
            client = smtplib.SMTP_SSL(server.host, server.port, timeout=self.timeout, context=context)
        else:
            client = smtplib.SMTP(server.host, server.port, timeout=self.timeout)
        try:
            client.ehlo()
            if not server.tls and client.has_extn("starttls"):
                client.starttls(context=context)
                client.ehlo()
            if server.username is not None:
                client.login(server.username, server.password or "")
        except BaseException:
            client.close()
            raise
        return client
