"""In-process fan-out: the broker for a single server process (the SQLite default)."""

from __future__ import annotations

from flagward.domain.events import Event
from flagward.streaming.hub import Hub


class MemoryBroker:
    """Implements ``services.ports.Broker``. ``publish`` runs in the committing (worker) thread after the
    commit; the events are handed to the hub's loop. Without a running hub (a CLI command) they are
    dropped: no stream can be waiting for them in this process."""

    def __init__(self) -> None:
        self._hub: Hub | None = None

    def attach(self, hub: Hub) -> None:
        self._hub = hub

    def publish(self, events: list[Event]) -> None:
        if self._hub is not None:
            self._hub.deliver_threadsafe(list(events))

    async def run(self, hub: Hub) -> None:
        """Nothing to listen to: every event of this process arrives through ``publish``."""
        self.attach(hub)
        hub.set_connected(True)

    def close(self) -> None:
        self._hub = None
