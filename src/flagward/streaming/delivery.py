"""SDK delivery for one server process: the hub, and the broker that feeds it change events."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Protocol

from flagward.domain.events import Event
from flagward.streaming.hub import Hub


class ListeningBroker(Protocol):
    """A ``services.ports.Broker`` that also delivers events to this process's hub."""

    def publish(self, events: list[Event]) -> None: ...
    async def run(self, hub: Hub) -> None:
        """Feed ``hub`` until cancelled, telling it when it is connected and when to resync."""
        ...

    def close(self) -> None: ...


class SdkDelivery:
    def __init__(self, hub: Hub, broker: ListeningBroker) -> None:
        self.hub = hub
        self.broker = broker
        self._task: asyncio.Task[None] | None = None

    async def start(self, *, wait_seconds: float = 5.0) -> None:
        """Start the hub and the broker, and give the broker up to ``wait_seconds`` to connect, so that a
        server that has just started does not turn SDKs away with 503 (it does, until it connects)."""
        await self.hub.start(connected=False)
        self._task = asyncio.create_task(self.broker.run(self.hub))
        deadline = asyncio.get_running_loop().time() + wait_seconds
        while not self.hub.ready and asyncio.get_running_loop().time() < deadline and not self._task.done():
            await asyncio.sleep(0.01)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self.hub.stop()

    def shutdown_requested(self) -> None:
        """From a signal handler or another thread: end every stream now, so that the server's graceful
        shutdown does not wait for SDKs that would never hang up."""
        self.hub.call_threadsafe(self.hub.begin_shutdown)
