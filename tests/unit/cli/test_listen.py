"""``cli.listen``: one socket for one worker; with several, one ``SO_REUSEPORT`` socket each on the same
port, and never a port someone else holds (even with ``SO_REUSEPORT``, which would otherwise share it)."""

from __future__ import annotations

import socket

import pytest

from flagward.cli.listen import listen
from flagward.config import Settings


def _held(*, reuse_port: bool) -> socket.socket:
    sock = socket.socket()
    if reuse_port:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    return sock


def test_several_workers_get_one_reuse_port_socket_each_on_one_port() -> None:
    sockets = listen(Settings(port=0, workers=3))
    try:
        assert len(sockets) == 3
        assert len({sock.getsockname()[1] for sock in sockets}) == 1
        assert all(sock.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT) for sock in sockets)
        assert all(sock.get_inheritable() for sock in sockets)
        # Every one of them accepts: the kernel spreads connections over all.
        port = sockets[0].getsockname()[1]
        accepted: set[int] = set()
        clients = []
        for _ in range(64):
            clients.append(socket.create_connection(("127.0.0.1", port)))
        for index, sock in enumerate(sockets):
            sock.setblocking(False)
            try:
                while True:
                    sock.accept()[0].close()
                    accepted.add(index)
            except BlockingIOError:
                pass
        assert accepted == {0, 1, 2}
        for client in clients:
            client.close()
    finally:
        for sock in sockets:
            sock.close()


@pytest.mark.parametrize("reuse_port", [False, True])
def test_a_port_in_use_is_refused_however_its_holder_bound_it(reuse_port: bool) -> None:
    holder = _held(reuse_port=reuse_port)
    try:
        port = holder.getsockname()[1]
        for workers in (1, 2):
            with pytest.raises(OSError):
                listen(Settings(port=port, workers=workers))
    finally:
        holder.close()
