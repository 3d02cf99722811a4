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


def chunk(data: bytes) -> bytes:
    """``data`` as one chunk of a chunked HTTP/1.1 body."""
    return b"%x\r\n" % len(data) + data + b"\r\n"


class _LastChunk:
    """The chunk framing of the event written last: a change goes to thousands of streams, framed once."""

    __slots__ = ("framed", "source")

    def __init__(self) -> None:
        self.source = b""
        self.framed = b""

    def of(self, data: bytes) -> bytes:
        if data is not self.source:
            self.source, self.framed = data, chunk(data)
        return self.framed


_LAST = _LastChunk()


class _Written:
    count = 0


_WRITTEN = _Written()


def count_written() -> None:
    """Add the events transport streams wrote since the last call to ``flagward_sdk_stream_events_sent``."""
    if _WRITTEN.count:
        metrics.sdk_stream_events.inc(_WRITTEN.count)
        _WRITTEN.count = 0


END_OF_BODY = b"0\r\n\r\n"


class TransportStream:
    """A stream written straight to its connection's transport (``flagward.http.sdk.fastpath``): an
    event costs one ``write`` of shared, already chunk-framed bytes, with no task or buffer of its own.

    Back-pressure: a reader that does not keep up leaves bytes in the transport's write buffer; once
    they exceed ``limit`` the connection is aborted (its SDK reconnects and gets a fresh ``put``), so a
    slow reader never holds memory without bound nor slows the others."""

    __slots__ = ("_closed", "_limit", "_transport", "credential", "environment_id", "flags_only")

    def __init__(
        self,
        transport: asyncio.Transport,
        environment_id: str,
        credential: str,
        *,
        flags_only: bool,
        limit: int,
    ) -> None:
        self._transport = transport
        self.environment_id = environment_id
        self.credential = credential
        self.flags_only = flags_only
        self._limit = limit
        self._closed = False

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def idle(self) -> bool:
        return True  # nothing waits here: every housekeeping pass sends a heartbeat

    def push(self, data: bytes) -> None:
        if self._closed:
            return
        transport = self._transport
        if transport.get_write_buffer_size() > self._limit:
            log.warning("closing a stream of environment %s that fell behind", self.environment_id)
            metrics.sdk_slow_readers.inc()
            self._closed = True
            transport.abort()
            return
        transport.write(_LAST.of(data))
        _WRITTEN.count += 1  # counted in bulk (``count_written``): a fan-out is thousands of pushes

    def close(self) -> None:
        """End the body and close the connection (the SDK reconnects)."""
        if self._closed:
            return
        self._closed = True
        if not self._transport.is_closing():
            self._transport.write(END_OF_BODY)
            self._transport.close()
