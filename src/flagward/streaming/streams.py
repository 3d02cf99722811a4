"""One connected SDK stream: the pre-serialized events waiting to be sent to it."""

from __future__ import annotations

import asyncio
import logging
from collections import deque

from flagward import metrics

log = logging.getLogger("flagward.streaming")

HEARTBEAT = b":\n\n"  # an SSE comment: SDKs ignore it, but it resets their read timeout


class Stream:
    """One connected SDK stream: a small buffer of pre-serialized events. A consumer that falls
    ``limit`` events behind is closed; its SDK reconnects and gets a fresh ``put``."""

    __slots__ = ("_buffer", "_closed", "_limit", "_waiter", "credential", "environment_id", "flags_only")

    def __init__(self, environment_id: str, credential: str, *, flags_only: bool, limit: int) -> None:
        self.environment_id = environment_id
        self.credential = credential
        self.flags_only = flags_only
        self._buffer: deque[bytes] = deque()
        self._limit = limit
        self._closed = False
        self._waiter: asyncio.Future[None] | None = None

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def idle(self) -> bool:
        return not self._buffer

    def push(self, data: bytes) -> None:
        if self._closed:
            return
        if len(self._buffer) >= self._limit:
            log.warning("closing a stream of environment %s that fell behind", self.environment_id)
            metrics.sdk_slow_readers.inc()
            self.close()
            return
        self._buffer.append(data)
        self._wake()

    def close(self) -> None:
        self._closed = True
        self._wake()

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    async def next(self) -> bytes | None:
        """The next event to send, or None once the stream is closed."""
        while not self._buffer and not self._closed:
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        if self._closed:
            return None
        return self._buffer.popleft()
