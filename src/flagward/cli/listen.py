"""The server's listening sockets, bound before anything slow is imported or done (see ``listen``)."""

from __future__ import annotations

import socket

from flagward.config import Settings


def listen(settings: Settings) -> list[socket.socket]:
    """Bind the port before the (slower) start-up: SDKs reconnecting during a restart wait in the
    listen queue and are answered as soon as the server is ready, instead of being refused and backing
    off for seconds.

    One socket per worker process (``--workers``): with several, each is bound with ``SO_REUSEPORT``, so
    the kernel spreads new connections evenly over the workers' own accept queues (one shared socket
    would hand most of them to whichever process happens to wait first). A plain bind first makes sure
    nobody else holds the port: ``SO_REUSEPORT`` would otherwise quietly share it with another server
    of the same user still running there."""
    if settings.workers == 1:
        return [_bind(settings, reuse_port=False)]
    port = settings.port
    if port:
        _bind(settings, port, reuse_port=False).close()  # OSError (EADDRINUSE) when the port is taken
    first = _bind(settings, port, reuse_port=True)
    port = first.getsockname()[1]  # port 0: the one the system chose, for every worker
    return [first, *(_bind(settings, port, reuse_port=True) for _ in range(settings.workers - 1))]


def _bind(settings: Settings, port: int | None = None, *, reuse_port: bool) -> socket.socket:
    family = socket.AF_INET6 if ":" in settings.host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if reuse_port:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((settings.host, settings.port if port is None else port))
        sock.listen(2048)
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock
