"""The per-process SDK hub: environments in memory, and the streams connected to them.

Everything here runs on the event loop, except the :class:`~flagward.streaming.source.Source` calls,
which run in worker threads. The database is read once when an environment is first asked for, once
per change event (the changed item only), and once per environment after the broker reconnects; SDK
requests are answered from memory.

Ordering: a stream is registered in the same loop step that queues its ``put``, so every change applied
afterwards reaches it after the ``put``. Items only move forward in version (see ``cache.py``), so loads
that finish out of order cannot undo a newer change.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from anyio import to_thread

from flagward import metrics
from flagward.domain.events import EnvironmentChanged, Event, ItemKind, SdkItemChanged
from flagward.services.ports import StoreUnavailable
from flagward.streaming.cache import EnvironmentCache, change_events
from flagward.streaming.payloads import tombstone
from flagward.streaming.source import EnvironmentKeys, Source
from flagward.streaming.streams import HEARTBEAT, Stream, TransportStream, count_written

__all__ = [
    "HEARTBEAT",
    "AnyStream",
    "EnvironmentState",
    "Hub",
    "NotReady",
    "Stream",
    "TransportStream",
    "UnknownCredential",
]

AnyStream = Stream | TransportStream

log = logging.getLogger("flagward.streaming")

T = TypeVar("T")
_RETRY_DELAYS = (0.5, 1.0, 2.0, 5.0, 10.0, 30.0)


class NotReady(Exception):
    """The hub cannot answer yet (starting, or the store or the broker is unreachable): a 503."""


class UnknownCredential(Exception):
    """No environment has this credential (a 401, or a 404 for a client-side ID)."""


class _GaveUp(Exception):
    """The store stayed unreachable through every retry."""


class EnvironmentState:
    """An environment the hub serves: its keys, its cached items, its streams."""

    def __init__(self, keys: EnvironmentKeys) -> None:
        self.keys = keys
        self.cache = EnvironmentCache()
        self.streams: set[AnyStream] = set()
        # The HTTP edge's prebuilt responses for this environment (``flagward.http.sdk.fastpath``).
        self.responses: dict[object, tuple[object, object, bytes]] = {}
        self.loaded: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.pending: set[tuple[ItemKind, str]] = set()  # changed while loading
        self.refreshing: set[tuple[ItemKind, str]] = set()
        self.refresh_again: set[tuple[ItemKind, str]] = set()
        self.reload_after_load = False
        self.last_used = time.monotonic()

    @property
    def is_loaded(self) -> bool:
        return self.loaded.done() and self.loaded.exception() is None


class Hub:
    def __init__(
        self,
        source: Source,
        *,
        heartbeat_seconds: float = 30.0,
        stream_buffer: int = 512,
        idle_seconds: float = 600.0,
    ) -> None:
        self._source = source
        self._heartbeat_seconds = heartbeat_seconds
        self._stream_buffer = stream_buffer
        self._idle_seconds = idle_seconds
        self._envs: dict[str, EnvironmentState] = {}
        self._credentials: dict[str, str] = {}  # SDK key or mobile key -> environment id
        self._lookups: dict[str, asyncio.Future[EnvironmentKeys | None]] = {}  # in flight, by credential
        self._tasks: set[asyncio.Task[None]] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._connected = False
        self._stopping = False

    # ---- lifecycle

    async def start(self, *, connected: bool = True) -> None:
        self._loop = asyncio.get_running_loop()
        self._connected = connected
        self._spawn(self._housekeeping())

    async def stop(self) -> None:
        self._stopping = True
        self.close_all_streams()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._loop = None

    @property
    def ready(self) -> bool:
        return self._loop is not None and self._connected and not self._stopping

    def set_connected(self, connected: bool) -> None:
        """The broker reports whether it is receiving change events."""
        self._connected = connected

    def call_threadsafe(self, callback: Callable[[], None]) -> bool:
        """Run ``callback`` on the hub's loop, from any thread; False if the hub is not running."""
        loop = self._loop
        if loop is None or loop.is_closed():
            return False
        try:
            loop.call_soon_threadsafe(callback)
        except RuntimeError:  # the loop closed meanwhile
            return False
        return True

    def begin_shutdown(self) -> None:
        """Stop taking SDK requests (503) and end every stream: the server is going away."""
        self._stopping = True
        self.close_all_streams()

    def close_all_streams(self) -> None:
        for state in self._envs.values():
            for stream in list(state.streams):
                stream.close()
            state.streams.clear()

    @property
    def stream_count(self) -> int:
        return sum(len(state.streams) for state in self._envs.values())

    # ---- lookups

    async def by_credential(self, credential: str, *, mobile: bool = False) -> EnvironmentState:
        """The loaded environment whose SDK key (or mobile key) is ``credential``.
        Raises UnknownCredential or NotReady."""
        self._check_ready()
        env_id = self._credentials.get(credential)
        if env_id is None:
            keys = await self._lookup(self._source.by_credential, credential)
            if keys is None:
                raise UnknownCredential()
            env_id = keys.id
            self._state_for(keys)
        state = await self._loaded(env_id)
        if credential != (state.keys.mobile_key if mobile else state.keys.sdk_key):
            raise UnknownCredential()
        return state

    def loaded_for_sdk_key(self, credential: str) -> EnvironmentState | None:
        """Without waiting: the loaded environment whose SDK key is ``credential``, when the hub is ready
        and holds it already; None otherwise (``by_credential`` then answers, or raises)."""
        env_id = self._credentials.get(credential)
        if env_id is None or not self.ready:
            return None
        state = self._envs.get(env_id)
        if state is None or state.keys.sdk_key != credential or not state.is_loaded:
            return None
        state.last_used = time.monotonic()
        return state

    def loaded_by_id(self, environment_id: str) -> EnvironmentState | None:
        """Without waiting or loading: the environment with this id, when the hub is ready and holds it
        loaded; None otherwise. Only for readers that check what they take against the store (the REST
        evaluate endpoint): what is held may trail the store by a change on its way."""
        state = self._envs.get(environment_id) if self.ready else None
        if state is None or not state.is_loaded:
            return None
        state.last_used = time.monotonic()
        return state

    async def by_id(self, environment_id: str) -> EnvironmentState:
        """The loaded environment with this id (the client-side ID). Raises UnknownCredential or NotReady."""
        self._check_ready()
        if environment_id not in self._envs:
            keys = await self._lookup(self._source.by_id, environment_id)
            if keys is None:
                raise UnknownCredential()
            self._state_for(keys)
        return await self._loaded(environment_id)

    async def _lookup(self, read: Callable[[str], EnvironmentKeys | None], credential: str) -> EnvironmentKeys | None:
        """One store read per credential, however many requests (a restart's reconnect storm) ask."""
        pending = self._lookups.get(credential)
        if pending is None:
            pending = self._lookups[credential] = asyncio.ensure_future(self._blocking(read, credential))
            pending.add_done_callback(lambda _: self._lookups.pop(credential, None))
        return await asyncio.shield(pending)

    def _check_ready(self) -> None:
        if not self.ready:
            raise NotReady("the SDK hub is not ready")

    def _state_for(self, keys: EnvironmentKeys) -> EnvironmentState:
        state = self._envs.get(keys.id)
        if state is None:
            state = self._envs[keys.id] = EnvironmentState(keys)
            self._remember(keys)
            self._spawn(self._load(state))
        elif state.is_loaded:
            self._set_keys(state, keys)  # just read from the store: newer than a change event on its way
        return state

    async def _loaded(self, environment_id: str) -> EnvironmentState:
        state = self._envs.get(environment_id)
        if state is None:
            raise UnknownCredential()
        await asyncio.shield(state.loaded)
        if self._envs.get(environment_id) is not state:  # dropped while we waited
            raise NotReady("the environment changed while loading")
        state.last_used = time.monotonic()
        return state

    def _remember(self, keys: EnvironmentKeys) -> None:
        self._credentials[keys.sdk_key] = keys.id
        self._credentials[keys.mobile_key] = keys.id

    def _forget(self, keys: EnvironmentKeys) -> None:
        for credential in (keys.sdk_key, keys.mobile_key):
            if self._credentials.get(credential) == keys.id:
                del self._credentials[credential]

    # ---- streams

    def subscribe(self, state: EnvironmentState, credential: str, *, flags_only: bool = False) -> Stream:
        """A new stream whose first event is the environment's current ``put``."""
        stream = Stream(state.keys.id, credential, flags_only=flags_only, limit=self._stream_buffer)
        stream.push(state.cache.put_event(flags_only=flags_only))
        state.streams.add(stream)
        return stream

    def attach(self, state: EnvironmentState, stream: TransportStream) -> None:
        """Serve ``stream`` from now on, starting with the environment's current ``put``."""
        stream.push(state.cache.put_event(flags_only=stream.flags_only))
        state.streams.add(stream)
        count_written()

    def unsubscribe(self, stream: AnyStream) -> None:
        stream.close()
        state = self._envs.get(stream.environment_id)
        if state is not None:
            state.streams.discard(stream)
            state.last_used = time.monotonic()

    # ---- change events (on the loop)

    def deliver(self, events: list[Event]) -> None:
        for event in events:
            if isinstance(event, SdkItemChanged):
                self._item_changed(event)
            else:
                self._environment_changed(event)

    def deliver_threadsafe(self, events: list[Event]) -> None:
        self.call_threadsafe(lambda: self.deliver(events))

    def _item_changed(self, event: SdkItemChanged) -> None:
        state = self._envs.get(event.environment_id)
        if state is None:
            return  # nobody here asked for this environment: nothing to update
        slot = (event.kind, event.key)
        if not state.is_loaded:
            state.pending.add(slot)
            return
        held = state.cache.get(event.kind, event.key)
        if held is not None and held.version >= event.version:
            return  # already applied (our own load saw it)
        if event.deleted:
            self._apply(state, event.kind, tombstone(event.key, event.version))
        else:
            self._refresh(state, slot)

    def _environment_changed(self, event: EnvironmentChanged) -> None:
        state = self._envs.get(event.environment_id)
        if state is None:
            return
        if event.deleted:
            self._drop(state)
        else:
            self._spawn(self._refresh_keys(state))

    def resync(self) -> None:
        """Reload every environment and send every stream a fresh ``put`` (after the broker lost events)."""
        for state in list(self._envs.values()):
            if state.is_loaded:
                self._spawn(self._reload(state))
            else:
                state.reload_after_load = True

    # ---- loading

    async def _load(self, state: EnvironmentState) -> None:
        try:
            snapshot = await self._blocking(self._source.snapshot, state.keys.id)
        except NotReady as exc:
            self._discard(state)
            state.loaded.set_exception(exc)
            return
        if snapshot is None:
            self._discard(state)
            state.loaded.set_exception(UnknownCredential())
            return
        if self._envs.get(state.keys.id) is not state:
            state.loaded.set_exception(NotReady("the environment changed while loading"))
            return
        self._set_keys(state, snapshot.environment)
        state.cache.merge(snapshot.flags, snapshot.segments)
        state.loaded.set_result(None)
        pending, state.pending = state.pending, set()
        for slot in pending:
            self._refresh(state, slot)
        if state.reload_after_load:
            state.reload_after_load = False
            self._spawn(self._reload(state))

    async def _reload(self, state: EnvironmentState) -> None:
        try:
            snapshot = await self._retrying(lambda: self._source.snapshot(state.keys.id), state)
        except _GaveUp:
            return
        if self._envs.get(state.keys.id) is not state:
            return
        if snapshot is None:
            self._drop(state)
            return
        self._set_keys(state, snapshot.environment)
        state.cache.merge(snapshot.flags, snapshot.segments)
        for stream in list(state.streams):
            stream.push(state.cache.put_event(flags_only=stream.flags_only))
        count_written()

    def _refresh(self, state: EnvironmentState, slot: tuple[ItemKind, str]) -> None:
        if slot in state.refreshing:
            state.refresh_again.add(slot)  # coalesce: one more read once the current one is done
            return
        state.refreshing.add(slot)
        self._spawn(self._refresh_item(state, slot))

    async def _refresh_item(self, state: EnvironmentState, slot: tuple[ItemKind, str]) -> None:
        kind, key = slot
        try:
            while True:
                state.refresh_again.discard(slot)
                try:
                    item = await self._retrying(lambda: self._source.item(state.keys.id, kind, key), state)
                except _GaveUp:
                    return
                if self._envs.get(state.keys.id) is not state:
                    return
                if item is not None:
                    self._apply(state, kind, item)
                if slot not in state.refresh_again:
                    return
        finally:
            state.refreshing.discard(slot)

    async def _refresh_keys(self, state: EnvironmentState) -> None:
        try:
            keys = await self._retrying(lambda: self._source.by_id(state.keys.id), state)
        except _GaveUp:
            return
        if self._envs.get(state.keys.id) is not state:
            return
        if keys is None:
            self._drop(state)
        else:
            self._set_keys(state, keys)

    def _set_keys(self, state: EnvironmentState, keys: EnvironmentKeys) -> None:
        """Adopt the environment's current keys; streams opened with a key that changed are closed."""
        old = state.keys
        if old == keys:
            return
        self._forget(old)
        state.keys = keys
        self._remember(keys)
        for stream in list(state.streams):
            if stream.credential not in (keys.sdk_key, keys.mobile_key, keys.id):
                stream.close()
                state.streams.discard(stream)

    def _apply(self, state: EnvironmentState, kind: ItemKind, data: dict[str, object]) -> None:
        item = state.cache.upsert(kind, data)
        if item is None:
            return
        full, flags_only = change_events(kind, item)
        started = time.perf_counter()
        for stream in list(state.streams):  # one shared event; a stream's connection write, or its queue
            if stream.closed:
                state.streams.discard(stream)
            elif not stream.flags_only:
                stream.push(full)
            elif flags_only is not None:
                stream.push(flags_only)
        metrics.sdk_fanout_duration.observe(time.perf_counter() - started)
        count_written()

    def _drop(self, state: EnvironmentState) -> None:
        for stream in list(state.streams):
            stream.close()
        state.streams.clear()
        self._discard(state)

    def _discard(self, state: EnvironmentState) -> None:
        if self._envs.get(state.keys.id) is state:
            del self._envs[state.keys.id]
            self._forget(state.keys)

    # ---- plumbing

    async def _blocking(self, function: Callable[..., T], *args: object) -> T:
        try:
            return await to_thread.run_sync(function, *args)
        except StoreUnavailable as exc:
            raise NotReady(str(exc)) from exc

    async def _retrying(self, function: Callable[[], T], state: EnvironmentState) -> T:
        """``function`` in a worker thread, retried while the store is unreachable and ``state`` is
        still served. Giving up drops the environment and closes its streams: rather than serve data
        that may have missed a change, its SDKs reconnect (503 until the store is back) and reload.
        Raises _GaveUp."""
        for delay in (*_RETRY_DELAYS, None):
            try:
                return await to_thread.run_sync(function)
            except StoreUnavailable as exc:
                if delay is None or self._envs.get(state.keys.id) is not state:
                    log.warning("giving up reading environment %s: %s", state.keys.id, exc)
                    self._drop(state)
                    raise _GaveUp() from exc
                await asyncio.sleep(delay)
        raise AssertionError("unreachable")

    def _spawn(self, awaitable: Awaitable[None]) -> None:
        task: asyncio.Task[None] = asyncio.ensure_future(awaitable)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("SDK hub task failed", exc_info=task.exception())

    async def _housekeeping(self) -> None:
        """Heartbeats for idle streams; environments nobody used for a while leave memory."""
        while True:
            await asyncio.sleep(self._heartbeat_seconds)
            now = time.monotonic()
            for state in list(self._envs.values()):
                for stream in list(state.streams):
                    if stream.closed:
                        state.streams.discard(stream)
                    elif stream.idle:
                        stream.push(HEARTBEAT)
                if not state.streams and state.is_loaded and now - state.last_used > self._idle_seconds:
                    self._discard(state)
            count_written()
