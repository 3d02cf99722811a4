"""The server's listening socket, bound before anything slow is imported or done (see ``listen``)."""

from __future__ import annotations

import socket

from flagward.config import Settings


def listen(settings: Settings) -> socket.socket:
    """Bind the port before the (slower) start-up: SDKs reconnecting during a restart wait in the
    listen queue and are answered as soon as the server is ready, instead of being refused and backing
    off for seconds."""
    family = socket.AF_INET6 if ":" in settings.host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((settings.host, settings.port))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock
