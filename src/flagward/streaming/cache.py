"""One environment's SDK items in memory, and the bytes served from them.

Each item is serialized once, when it arrives; the ``put`` event, the ``/sdk/latest-*`` bodies, their
ETag and gzip form are assembled from those pieces lazily, at most once per change, and shared by every
request and stream until the next change. Versions only increase: an item older than (or as old as) the
one held is ignored, so updates may arrive in any order.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import time
from collections.abc import Callable
from typing import Any, cast

from flagward import metrics
from flagward.domain.evaluation import CompiledFlag, CompiledSegment, Evaluator, compile_flag, compile_segment
from flagward.domain.events import ItemKind
from flagward.streaming.payloads import SdkItem

# The payloads built once per change: each kind's JSON map, then what is assembled from them.
_PAYLOADS = ("map", "all", "all.gz", "etag", "put", "put.flags")
_BUILDS = {name: metrics.sdk_payload_builds.labels(name) for name in _PAYLOADS}
_BUILD_SECONDS = {name: metrics.sdk_payload_duration.labels(name) for name in _PAYLOADS}
_COMPILES = {kind: metrics.sdk_compiles.labels(kind.value) for kind in ItemKind}


def compile_item(kind: ItemKind, data: SdkItem) -> CompiledFlag | CompiledSegment:
    """An SDK flag or segment compiled for evaluation, counted (``flagward_sdk_compiles_total``)."""
    _COMPILES[kind].inc()
    return compile_flag(data) if kind is ItemKind.FLAG else compile_segment(data)


def dumps(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


def sse(event: bytes, data: bytes) -> bytes:
    """One server-sent event. Our JSON never contains a newline, so one ``data:`` line suffices."""
    return b"event: " + event + b"\ndata: " + data + b"\n\n"


class Item:
    __slots__ = ("data", "entry", "json")

    def __init__(self, data: SdkItem) -> None:
        self.data = data
        self.json = dumps(data)
        self.entry = dumps(data["key"]) + b":" + self.json  # its member in a {key: item} map

    @property
    def version(self) -> int:
        version: int = self.data["version"]
        return version

    @property
    def deleted(self) -> bool:
        return self.data.get("deleted") is True


class _Kind:
    """The items of one kind, with their ``{key: item}`` map serialized lazily."""

    __slots__ = ("_map", "compiled", "items")

    def __init__(self) -> None:
        self.items: dict[str, Item] = {}
        self.compiled: dict[str, Any] = {}
        self._map: bytes | None = None

    def map_bytes(self) -> bytes:
        if self._map is None:
            started = time.perf_counter()
            # Sorted, so that every process holding the same data serves the same bytes (and ETag).
            self._map = b"{" + b",".join(self.items[k].entry for k in sorted(self.items)) + b"}"
            _BUILDS["map"].inc()
            _BUILD_SECONDS["map"].observe(time.perf_counter() - started)
        return self._map

    def changed(self, key: str) -> None:
        self._map = None
        self.compiled.pop(key, None)


class EnvironmentCache:
    def __init__(self) -> None:
        self._kinds = {ItemKind.FLAG: _Kind(), ItemKind.SEGMENT: _Kind()}
        self._derived: dict[str, bytes] = {}

    def items(self, kind: ItemKind) -> dict[str, Item]:
        return self._kinds[kind].items

    def get(self, kind: ItemKind, key: str) -> Item | None:
        return self._kinds[kind].items.get(key)

    def upsert(self, kind: ItemKind, data: SdkItem) -> Item | None:
        """Store ``data`` if it is newer than what is held; returns the new item, or None if ignored."""
        held = self._kinds[kind].items.get(data["key"])
        if held is not None and held.version >= data["version"]:
            return None
        item = Item(data)
        self._kinds[kind].items[item.data["key"]] = item
        self._kinds[kind].changed(item.data["key"])
        self._derived.clear()
        return item

    def merge(self, flags: dict[str, SdkItem], segments: dict[str, SdkItem]) -> None:
        for kind, items in ((ItemKind.FLAG, flags), (ItemKind.SEGMENT, segments)):
            for data in items.values():
                self.upsert(kind, data)

    # ---- bytes, built at most once per change

    def _cached(self, name: str, build: Callable[[], bytes]) -> bytes:
        value = self._derived.get(name)
        if value is None:
            started = time.perf_counter()
            value = self._derived[name] = build()
            _BUILDS[name].inc()
            _BUILD_SECONDS[name].observe(time.perf_counter() - started)
        return value

    def map_bytes(self, kind: ItemKind) -> bytes:
        return self._kinds[kind].map_bytes()

    def latest_all(self) -> bytes:
        """The ``/sdk/latest-all`` body: ``{"flags": {...}, "segments": {...}}``."""
        flags, segments = ItemKind.FLAG, ItemKind.SEGMENT
        return self._cached(
            "all", lambda: b'{"flags":' + self.map_bytes(flags) + b',"segments":' + self.map_bytes(segments) + b"}"
        )

    def latest_all_gzip(self) -> bytes:
        return self._cached("all.gz", lambda: gzip.compress(self.latest_all(), compresslevel=6, mtime=0))

    def etag(self) -> bytes:
        return self._cached("etag", lambda: b'"' + hashlib.sha256(self.latest_all()).hexdigest()[:32].encode() + b'"')

    def put_event(self, *, flags_only: bool) -> bytes:
        """The stream's opening ``put``; on the flags-only stream (``/flags``) its data is the flags map."""
        if flags_only:
            return self._cached("put.flags", lambda: sse(b"put", self.map_bytes(ItemKind.FLAG)))
        return self._cached("put", lambda: sse(b"put", b'{"path":"/","data":' + self.latest_all() + b"}"))

    # ---- evaluation

    def evaluator(self) -> Evaluator:
        """An evaluator over the held items; each item is compiled once, on first use after a change."""
        return Evaluator(self.compiled_flag, self.compiled_segment)

    def compiled_flag(self, key: str) -> CompiledFlag | None:
        kind = self._kinds[ItemKind.FLAG]
        compiled: CompiledFlag | None = kind.compiled.get(key)
        if compiled is None and key in kind.items:
            compiled = kind.compiled[key] = cast(CompiledFlag, compile_item(ItemKind.FLAG, kind.items[key].data))
        return compiled

    def compiled_segment(self, key: str) -> CompiledSegment | None:
        kind = self._kinds[ItemKind.SEGMENT]
        compiled: CompiledSegment | None = kind.compiled.get(key)
        if compiled is None and key in kind.items:
            compiled = kind.compiled[key] = cast(CompiledSegment, compile_item(ItemKind.SEGMENT, kind.items[key].data))
        return compiled

    def held_at(self, kind: ItemKind, key: str, version: int) -> Item | None:
        """The held item ``key`` if it is at exactly ``version``; else None. Within an environment a key's
        versions only increase, even across deletion, so a (key, version) names one SDK item."""
        item = self._kinds[kind].items.get(key)
        return item if item is not None and item.version == version else None

    def compiled(self, kind: ItemKind, key: str) -> CompiledFlag | CompiledSegment | None:
        """The held item ``key`` as compiled so far (never compiles): None until first used after a change."""
        compiled: CompiledFlag | CompiledSegment | None = self._kinds[kind].compiled.get(key)
        return compiled

    def adopt(self, kind: ItemKind, item: Item, compiled: CompiledFlag | CompiledSegment) -> None:
        """Keep ``compiled``, made from ``item``'s data elsewhere (a worker thread), if ``item`` is still the
        one held and nothing is compiled for it yet."""
        held = self._kinds[kind]
        key = item.data["key"]
        if held.items.get(key) is item and key not in held.compiled:
            held.compiled[key] = compiled


def change_events(kind: ItemKind, item: Item) -> tuple[bytes, bytes | None]:
    """The ``patch``/``delete`` event for the full stream, and for the flags-only stream (None for a
    segment, which that stream does not carry)."""
    path = "/" + kind.value + "/" + item.data["key"]
    flags_path = "/" + item.data["key"]
    if item.deleted:
        full = sse(b"delete", dumps({"path": path, "version": item.version}))
        short = sse(b"delete", dumps({"path": flags_path, "version": item.version}))
    else:
        full = sse(b"patch", b'{"path":' + dumps(path) + b',"data":' + item.json + b"}")
        short = sse(b"patch", b'{"path":' + dumps(flags_path) + b',"data":' + item.json + b"}")
    return full, (short if kind is ItemKind.FLAG else None)
