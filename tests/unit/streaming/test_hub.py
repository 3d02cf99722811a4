"""The hub on a fake source: what it reads, what streams receive, and in which order."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest

from flagward.domain.evaluation import compile_flag
from flagward.domain.events import EnvironmentChanged, ItemKind, SdkItemChanged
from flagward.streaming.hub import HEARTBEAT, Hub, NotReady, Stream, UnknownCredential
from flagward.streaming.source import EnvironmentKeys
from tests.unit.streaming.fakes import FakeSource, flag, segment

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def source() -> FakeSource:
    source = FakeSource()
    env = source.add("env1")
    env.flags["f1"] = flag("f1")
    env.segments["s1"] = segment("s1")
    return source


@pytest.fixture
async def hub(source: FakeSource) -> AsyncIterator[Hub]:
    hub = Hub(source, heartbeat_seconds=3600)
    await hub.start()
    yield hub
    await hub.stop()


def parse(data: bytes) -> tuple[str, Any]:
    if data == HEARTBEAT:
        return ":", None
    event, payload = data.decode().split("\n")[:2]
    return event.removeprefix("event: "), json.loads(payload.removeprefix("data: "))


async def next_event(stream: Stream) -> tuple[str, Any]:
    data = await asyncio.wait_for(stream.next(), 2.0)
    assert data is not None, "the stream was closed"
    return parse(data)


async def settle() -> None:
    """Let worker-thread reads and the callbacks after them run."""
    for _ in range(50):
        await asyncio.sleep(0.01)


async def test_a_stream_starts_with_a_put_of_every_flag_and_segment(hub: Hub, source: FakeSource) -> None:
    state = await hub.by_credential("sdk-env1")
    stream = hub.subscribe(state, "sdk-env1")
    event, body = await next_event(stream)
    assert event == "put"
    assert body == {"path": "/", "data": {"flags": {"f1": flag("f1")}, "segments": {"s1": segment("s1")}}}


async def test_an_environment_is_read_once_however_many_ask(hub: Hub, source: FakeSource) -> None:
    states = await asyncio.gather(*(hub.by_credential("sdk-env1") for _ in range(20)))
    assert len({id(s) for s in states}) == 1
    assert [r for r in source.reads if r[0] == "snapshot"] == [("snapshot", "env1")]
    await hub.by_credential("sdk-env1")
    assert len(source.reads) == 2  # one credential lookup, one snapshot: later lookups use memory


async def test_unknown_credentials_and_the_wrong_kind_of_key_are_refused(hub: Hub) -> None:
    with pytest.raises(UnknownCredential):
        await hub.by_credential("sdk-nope")
    with pytest.raises(UnknownCredential):
        await hub.by_credential("mob-env1")  # a mobile key where an SDK key is needed
    assert (await hub.by_credential("mob-env1", mobile=True)).keys.id == "env1"
    with pytest.raises(UnknownCredential):
        await hub.by_id("nope")


async def test_not_ready_until_started_and_connected_and_while_the_store_is_down(source: FakeSource) -> None:
    hub = Hub(source)
    with pytest.raises(NotReady):
        await hub.by_credential("sdk-env1")
    await hub.start(connected=False)
    try:
        with pytest.raises(NotReady):
            await hub.by_credential("sdk-env1")
        hub.set_connected(True)
        source.unavailable = True
        with pytest.raises(NotReady):
            await hub.by_credential("sdk-env1")
        source.unavailable = False
        assert (await hub.by_credential("sdk-env1")).keys.id == "env1"
    finally:
        await hub.stop()


async def test_a_change_is_read_once_and_the_same_bytes_go_to_every_stream(hub: Hub, source: FakeSource) -> None:
    state = await hub.by_credential("sdk-env1")
    streams = [hub.subscribe(state, "sdk-env1") for _ in range(3)]
    for stream in streams:
        await stream.next()  # the put
    source.environments["env1"].flags["f1"] = flag("f1", version=2, on=False)
    hub.deliver([SdkItemChanged("env1", ItemKind.FLAG, "f1", 2)])
    sent = [await asyncio.wait_for(s.next(), 2.0) for s in streams]
    assert len({id(data) for data in sent}) == 1  # serialized once
    assert parse(sent[0]) == ("patch", {"path": "/flags/f1", "data": flag("f1", version=2, on=False)})
    assert [r for r in source.reads if r[0] == "item"] == [("item", "env1", "flags", "f1")]


async def test_stale_and_repeated_events_send_nothing(hub: Hub, source: FakeSource) -> None:
    state = await hub.by_credential("sdk-env1")
    stream = hub.subscribe(state, "sdk-env1")
    await stream.next()
    hub.deliver([SdkItemChanged("env1", ItemKind.FLAG, "f1", 1)])  # the version we hold: no read at all
    await settle()
    assert not [r for r in source.reads if r[0] == "item"]
    source.environments["env1"].flags["f1"] = flag("f1", version=3)
    hub.deliver([SdkItemChanged("env1", ItemKind.FLAG, "f1", 2), SdkItemChanged("env1", ItemKind.FLAG, "f1", 3)])
    assert (await next_event(stream))[1]["data"]["version"] == 3
    await settle()
    assert stream.idle  # the second read found nothing newer


async def test_a_delete_needs_no_read_and_keeps_versions_increasing(hub: Hub, source: FakeSource) -> None:
    state = await hub.by_credential("sdk-env1")
    stream = hub.subscribe(state, "sdk-env1")
    await stream.next()
    version = source.delete("env1", ItemKind.SEGMENT, "s1")
    hub.deliver([SdkItemChanged("env1", ItemKind.SEGMENT, "s1", version, deleted=True)])
    assert await next_event(stream) == ("delete", {"path": "/segments/s1", "version": 2})
    assert not [r for r in source.reads if r[0] == "item"]
    assert json.loads(state.cache.latest_all())["segments"]["s1"] == {"key": "s1", "version": 2, "deleted": True}


async def test_events_for_environments_nobody_asked_for_are_ignored(hub: Hub, source: FakeSource) -> None:
    source.add("env2").flags["x"] = flag("x")
    hub.deliver([SdkItemChanged("env2", ItemKind.FLAG, "x", 2)])
    await settle()
    assert source.reads == []


async def test_a_change_during_the_first_load_is_not_lost(hub: Hub, source: FakeSource) -> None:
    import threading

    source.gate = threading.Event()
    lookup = asyncio.ensure_future(hub.by_credential("sdk-env1"))
    await settle()  # the snapshot is now being read, with the old f1
    source.environments["env1"].flags["f1"] = flag("f1", version=2, on=False)
    hub.deliver([SdkItemChanged("env1", ItemKind.FLAG, "f1", 2)])
    source.gate.set()
    state = await lookup
    await settle()
    item = state.cache.get(ItemKind.FLAG, "f1")
    assert item is not None and item.version == 2


async def test_resync_sends_every_stream_a_fresh_put(hub: Hub, source: FakeSource) -> None:
    state = await hub.by_credential("sdk-env1")
    full, short = hub.subscribe(state, "sdk-env1"), hub.subscribe(state, "sdk-env1", flags_only=True)
    await full.next(), await short.next()
    source.environments["env1"].flags["f2"] = flag("f2")  # a change whose event was lost
    hub.resync()
    event, body = await next_event(full)
    assert event == "put" and set(body["data"]["flags"]) == {"f1", "f2"}
    event, body = await next_event(short)
    assert event == "put" and set(body) == {"f1", "f2"}  # the flags-only stream: a bare map


async def test_the_flags_only_stream_gets_flag_changes_only(hub: Hub, source: FakeSource) -> None:
    state = await hub.by_credential("sdk-env1")
    stream = hub.subscribe(state, "sdk-env1", flags_only=True)
    assert await next_event(stream) == ("put", {"f1": flag("f1")})
    source.environments["env1"].segments["s1"] = segment("s1", version=2)
    source.environments["env1"].flags["f1"] = flag("f1", version=2)
    hub.deliver([SdkItemChanged("env1", ItemKind.SEGMENT, "s1", 2), SdkItemChanged("env1", ItemKind.FLAG, "f1", 2)])
    assert await next_event(stream) == ("patch", {"path": "/f1", "data": flag("f1", version=2)})


async def test_a_new_sdk_key_closes_the_streams_of_the_old_one(hub: Hub, source: FakeSource) -> None:
    state = await hub.by_credential("sdk-env1")
    stream = hub.subscribe(state, "sdk-env1")
    await stream.next()
    env = source.environments["env1"]
    env.keys = EnvironmentKeys("env1", "proj", "env1", "sdk-new", "mob-env1")
    hub.deliver([EnvironmentChanged("env1", reset_credentials=True)])
    assert await asyncio.wait_for(stream.next(), 2.0) is None
    with pytest.raises(UnknownCredential):
        await hub.by_credential("sdk-env1")
    assert (await hub.by_credential("sdk-new")) is state


async def test_a_deleted_environment_closes_its_streams(hub: Hub, source: FakeSource) -> None:
    state = await hub.by_credential("sdk-env1")
    stream = hub.subscribe(state, "sdk-env1")
    await stream.next()
    del source.environments["env1"]
    hub.deliver([EnvironmentChanged("env1", deleted=True)])
    assert await asyncio.wait_for(stream.next(), 2.0) is None
    with pytest.raises(UnknownCredential):
        await hub.by_credential("sdk-env1")


async def test_idle_streams_get_heartbeats(source: FakeSource) -> None:
    hub = Hub(source, heartbeat_seconds=0.02)
    await hub.start()
    try:
        stream = hub.subscribe(await hub.by_credential("sdk-env1"), "sdk-env1")
        await stream.next()
        assert await asyncio.wait_for(stream.next(), 2.0) == HEARTBEAT
    finally:
        await hub.stop()


async def test_a_stream_that_falls_behind_is_closed(source: FakeSource) -> None:
    hub = Hub(source, stream_buffer=3)
    await hub.start()
    try:
        state = await hub.by_credential("sdk-env1")
        stream = hub.subscribe(state, "sdk-env1")  # never read: the put stays queued
        for version in range(2, 6):
            source.environments["env1"].flags["f1"] = flag("f1", version=version)
            hub.deliver([SdkItemChanged("env1", ItemKind.FLAG, "f1", version)])
            await settle()
        assert stream.closed
        assert await stream.next() is None
        assert stream not in state.streams
    finally:
        await hub.stop()


async def test_polling_bytes_are_built_once_per_change(hub: Hub, source: FakeSource) -> None:
    state = await hub.by_credential("sdk-env1")
    body, etag = state.cache.latest_all(), state.cache.etag()
    assert state.cache.latest_all() is body and state.cache.etag() is etag
    source.environments["env1"].flags["f1"] = flag("f1", version=2)
    hub.deliver([SdkItemChanged("env1", ItemKind.FLAG, "f1", 2)])
    await settle()
    assert state.cache.etag() != etag
    assert json.loads(state.cache.latest_all())["flags"]["f1"]["version"] == 2


async def test_the_evaluator_sees_changes(hub: Hub, source: FakeSource) -> None:
    from flagward.domain.evaluation import Context

    state = await hub.by_credential("sdk-env1")
    detail = state.cache.evaluator().evaluate_key("f1", Context.create("u"))
    assert detail.value is True
    source.environments["env1"].flags["f1"] = flag("f1", version=2, on=False)
    hub.deliver([SdkItemChanged("env1", ItemKind.FLAG, "f1", 2)])
    await settle()
    assert state.cache.evaluator().evaluate_key("f1", Context.create("u")).reason == {"kind": "OFF"}


async def test_an_item_compiled_elsewhere_is_kept_only_for_the_version_it_was_made_from(
    hub: Hub, source: FakeSource
) -> None:
    assert hub.loaded_by_id("env1") is None  # not loaded: nothing is read for it
    assert source.reads == []
    await hub.by_credential("sdk-env1")
    state = hub.loaded_by_id("env1")
    assert state is not None
    cache = state.cache
    item = cache.held_at(ItemKind.FLAG, "f1", 1)
    assert item is not None and cache.held_at(ItemKind.FLAG, "f1", 2) is None
    assert cache.held_at(ItemKind.FLAG, "nope", 1) is None and cache.held_at(ItemKind.SEGMENT, "s1", 1) is not None
    assert cache.compiled(ItemKind.FLAG, "f1") is None  # never compiles by itself
    made = compile_flag(item.data)
    cache.adopt(ItemKind.FLAG, item, made)
    assert cache.compiled(ItemKind.FLAG, "f1") is made and cache.compiled_flag("f1") is made
    cache.adopt(ItemKind.FLAG, item, compile_flag(item.data))  # a second one is not taken
    assert cache.compiled(ItemKind.FLAG, "f1") is made
    source.environments["env1"].flags["f1"] = flag("f1", version=2, on=False)
    hub.deliver([SdkItemChanged("env1", ItemKind.FLAG, "f1", 2)])
    await settle()
    assert cache.compiled(ItemKind.FLAG, "f1") is None
    cache.adopt(ItemKind.FLAG, item, made)  # made from version 1: too late
    assert cache.compiled(ItemKind.FLAG, "f1") is None
    changed = cache.compiled_flag("f1")
    assert changed is not None and not changed.on and cache.held_at(ItemKind.FLAG, "f1", 2) is not None


async def test_a_hub_not_ready_holds_nothing_for_readers_by_id(source: FakeSource) -> None:
    hub = Hub(source, heartbeat_seconds=3600)
    await hub.start()
    await hub.by_credential("sdk-env1")
    hub.set_connected(False)
    try:
        assert hub.loaded_by_id("env1") is None
        hub.set_connected(True)
        assert hub.loaded_by_id("env1") is not None
    finally:
        await hub.stop()
