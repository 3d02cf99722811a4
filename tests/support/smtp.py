"""A real SMTP server for the e-mail tests (aiosmtpd, in a thread), which can refuse, hang, or never
answer, and records what it accepted."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default
from typing import Any, cast

from aiosmtpd.controller import Controller

from tests.support.server import free_port


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage

    def part(self, subtype: str) -> str:
        body = self.message.get_body(preferencelist=(subtype,))
        assert body is not None, self.message
        return str(cast(Any, body).get_content()).replace("\r\n", "\n")


@dataclass
class Sink:
    """The handler: ``nobody@…`` is refused for good (550); ``refuse`` DATA that many times with 451;
    ``hang`` that many DATA commands until ``release`` is set (then 451: the sender is gone by then)."""

    refuse: int = 0
    hang: int = 0
    attempts: int = 0
    received: list[Received] = field(default_factory=list)
    hanging: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)

    async def handle_RCPT(self, server: object, session: object, envelope: Any, address: str, options: Any) -> str:
        if address.startswith("nobody@"):
            return "550 5.1.1 no such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: object, session: object, envelope: Any) -> str:
        self.attempts += 1
        if self.hang > 0:
            self.hang -= 1
            self.hanging.set()
            while not self.release.is_set():
                await asyncio.sleep(0.05)
            return "451 4.3.0 the sender went away"
        if self.refuse > 0:
            self.refuse -= 1
            return "451 4.3.0 try again later"
        message = cast(EmailMessage, message_from_bytes(envelope.content, policy=default))
        self.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos), message))
        return "250 OK"

    def wait_for(self, count: int, timeout: float = 20.0) -> list[Received]:
        deadline = time.monotonic() + timeout
        while len(self.received) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        return list(self.received)


@contextmanager
def smtp_sink(**options: Any) -> Iterator[tuple[Sink, str]]:
    """A running SMTP server and its ``smtp://`` URL."""
    sink = Sink(**options)
    port = free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield sink, f"smtp://127.0.0.1:{port}"
    finally:
        sink.release.set()
        controller.stop()


@contextmanager
def silent_server() -> Iterator[str]:
    """A TCP server that accepts connections (the kernel does) but never says a word: an SMTP client
    waits for the greeting until its timeout."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    try:
        yield f"smtp://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        sock.close()
