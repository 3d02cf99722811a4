"""Streams written straight to a transport: shared chunk framing, back-pressure, closing; and the hub's
lookup without waiting that the HTTP protocol uses."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from flagward import metrics
from flagward.domain.events import ItemKind, SdkItemChanged
from flagward.streaming.hub import Hub
from flagward.streaming.streams import END_OF_BODY, TransportStream, chunk
from tests.unit.streaming.fakes import FakeSource, flag
from tests.unit.streaming.test_hub import settle

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


class FakeTransport:
    """What a stream uses of ``asyncio.Transport``; ``buffered`` plays the bytes the reader left unread."""

    def __init__(self) -> None:
        self.written: list[bytes] = []
        self.buffered = 0
        self.closing = False
        self.aborted = False

    def write(self, data: bytes) -> None:
        self.written.append(data)

    def get_write_buffer_size(self) -> int:
        return self.buffered

    def is_closing(self) -> bool:
        return self.closing

    def close(self) -> None:
        self.closing = True

    def abort(self) -> None:
        self.closing = self.aborted = True


def transport_stream(transport: FakeTransport, *, limit: int = 1000, flags_only: bool = False) -> TransportStream:
    fake: Any = transport
    return TransportStream(fake, "env1", "sdk-env1", flags_only=flags_only, limit=limit)


@pytest.fixture
async def hub() -> AsyncIterator[Hub]:
    source = FakeSource()
    source.add("env1").flags["f1"] = flag("f1")
    hub = Hub(source, heartbeat_seconds=3600)
    hub.source = source  # type: ignore[attr-defined]
    await hub.start()
    yield hub
    await hub.stop()


def test_events_are_chunk_framed_once_and_shared() -> None:
    first, second = FakeTransport(), FakeTransport()
    streams = [transport_stream(first), transport_stream(second)]
    event = b"event: patch\ndata: {}\n\n"
    for stream in streams:
        stream.push(event)
    assert first.written == [chunk(event)] == [b"17\r\n" + event + b"\r\n"]
    assert first.written[0] is second.written[0]


def test_a_reader_that_falls_behind_is_dropped_and_the_others_go_on() -> None:
    slow, fast = FakeTransport(), FakeTransport()
    dropped = metrics.sdk_slow_readers._value.get()
    streams = [transport_stream(slow), transport_stream(fast)]
    slow.buffered = 1001
    for stream in streams:
        stream.push(b"event: patch\ndata: {}\n\n")
    assert slow.aborted and not slow.written
    assert streams[0].closed
    assert len(fast.written) == 1 and not fast.closing
    assert metrics.sdk_slow_readers._value.get() == dropped + 1
    streams[0].push(b"more")  # nothing more for a closed stream
    assert not slow.written


def test_closing_ends_the_body_and_the_connection_once() -> None:
    transport = FakeTransport()
    stream = transport_stream(transport)
    stream.close()
    stream.close()
    assert transport.written == [END_OF_BODY] and transport.closing and not transport.aborted


async def test_the_hub_sends_the_put_then_changes_and_closes_on_shutdown(hub: Hub) -> None:
    assert hub.loaded_for_sdk_key("sdk-env1") is None  # not loaded yet: the application loads it
    state = await hub.by_credential("sdk-env1")
    assert hub.loaded_for_sdk_key("sdk-env1") is state
    assert hub.loaded_for_sdk_key("mob-env1") is None  # a mobile key is no SDK key
    assert hub.loaded_for_sdk_key("sdk-nope") is None
    transport = FakeTransport()
    stream = transport_stream(transport)
    hub.attach(state, stream)
    assert transport.written == [chunk(state.cache.put_event(flags_only=False))]
    source: FakeSource = hub.source  # type: ignore[attr-defined]
    source.environments["env1"].flags["f1"] = flag("f1", version=2, on=False)
    hub.deliver([SdkItemChanged("env1", ItemKind.FLAG, "f1", 2)])
    await settle()
    assert len(transport.written) == 2 and transport.written[1].split(b"\r\n")[1].startswith(b"event: patch\n")
    hub.begin_shutdown()
    assert transport.written[-1] == END_OF_BODY and transport.closing
    assert hub.loaded_for_sdk_key("sdk-env1") is None  # stopping: the application answers 503
