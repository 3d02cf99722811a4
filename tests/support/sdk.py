"""SDK-side test helpers: a REST client for setting things up, a raw SSE reader, and the official
``ldclient`` pointed at a flagward server."""

from __future__ import annotations

import json
import queue
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx
import ldclient
from ldclient.config import Config

from tests.support.accounts import unique

T = TypeVar("T")
SEMANTIC = "application/json; domain-model=launchdarkly.semanticpatch"


def wait_until(check: Callable[[], T], *, timeout: float = 10.0, interval: float = 0.02) -> T:
    """Poll ``check`` until it returns something truthy; fail with its last value after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s (last value {value!r})")
        time.sleep(interval)


@dataclass(frozen=True)
class Env:
    project: str
    key: str
    id: str
    sdk_key: str
    mobile_key: str


class Rest:
    """flagward's REST API v2 with the admin token, for arranging a test."""

    def __init__(self, base_url: str, token: str) -> None:
        self.http = httpx.Client(base_url=base_url, headers={"Authorization": token}, timeout=30.0)

    def close(self) -> None:
        self.http.close()

    def _ok(self, response: httpx.Response) -> Any:
        assert response.is_success, f"{response.request.method} {response.request.url}: {response.text}"
        return response.json() if response.content else None

    def create_project(self, key: str | None = None) -> dict[str, Env]:
        key = key or unique("sdkp")
        body = self._ok(self.http.post("/api/v2/projects", json={"key": key, "name": key}))
        return {e["key"]: Env(key, e["key"], e["_id"], e["apiKey"], e["mobileKey"]) for e in body["environments"]}

    def environment(self, project: str, env_key: str) -> Env:
        e = self._ok(self.http.get(f"/api/v2/projects/{project}/environments/{env_key}"))
        return Env(project, env_key, e["_id"], e["apiKey"], e["mobileKey"])

    def create_flag(self, project: str, key: str, **body: Any) -> dict[str, Any]:
        result: dict[str, Any] = self._ok(
            self.http.post(f"/api/v2/flags/{project}", json={"key": key, "name": key, **body})
        )
        return result

    def semantic_patch(self, project: str, flag: str, env: str | None, *instructions: dict[str, Any]) -> Any:
        body: dict[str, Any] = {"instructions": list(instructions)}
        if env is not None:
            body["environmentKey"] = env
        return self._ok(
            self.http.patch(f"/api/v2/flags/{project}/{flag}", json=body, headers={"Content-Type": SEMANTIC})
        )

    def json_patch(self, project: str, flag: str, ops: list[dict[str, Any]]) -> Any:
        return self._ok(self.http.patch(f"/api/v2/flags/{project}/{flag}", json=ops))

    def turn_on(self, project: str, flag: str, env: str) -> Any:
        return self.semantic_patch(project, flag, env, {"kind": "turnFlagOn"})

    def delete_flag(self, project: str, flag: str) -> None:
        self._ok(self.http.delete(f"/api/v2/flags/{project}/{flag}"))

    def create_segment(self, env: Env, key: str, **body: Any) -> Any:
        return self._ok(
            self.http.post(f"/api/v2/segments/{env.project}/{env.key}", json={"key": key, "name": key, **body})
        )

    def patch_segment(self, env: Env, key: str, ops: list[dict[str, Any]]) -> Any:
        return self._ok(self.http.patch(f"/api/v2/segments/{env.project}/{env.key}/{key}", json=ops))

    def delete_segment(self, env: Env, key: str) -> None:
        self._ok(self.http.delete(f"/api/v2/segments/{env.project}/{env.key}/{key}"))

    def reset_sdk_key(self, env: Env) -> Env:
        e = self._ok(self.http.post(f"/api/v2/projects/{env.project}/environments/{env.key}/apiKey"))
        return Env(env.project, env.key, e["_id"], e["apiKey"], e["mobileKey"])


@contextmanager
def rest(base_url: str, token: str) -> Iterator[Rest]:
    client = Rest(base_url, token)
    try:
        yield client
    finally:
        client.close()


@dataclass(frozen=True)
class SseEvent:
    event: str
    data: str

    def json(self) -> Any:
        return json.loads(self.data)


class SseReader:
    """Reads a server-sent event stream in a thread; events (and comments, as event ``":"``) queue up."""

    def __init__(self, url: str, headers: dict[str, str]) -> None:
        self.url = url
        self.headers = headers
        self.events: queue.Queue[SseEvent | BaseException | None] = queue.Queue()
        self.status: int | None = None
        self.response_headers: httpx.Headers | None = None
        self._opened = threading.Event()
        self._client = httpx.Client(timeout=httpx.Timeout(10.0, read=None))
        self._response: httpx.Response | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> SseReader:
        self._thread.start()
        assert self._opened.wait(10.0), "the stream did not answer"
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._response is not None:
            self._response.close()
        self._client.close()
        self._thread.join(5.0)

    def _run(self) -> None:
        try:
            with self._client.stream("GET", self.url, headers=self.headers) as response:
                self._response = response
                self.status = response.status_code
                self.response_headers = response.headers
                self._opened.set()
                event, data = "message", []
                for line in response.iter_lines():
                    if line.startswith(":"):
                        self.events.put(SseEvent(":", line[1:]))
                    elif line.startswith("event:"):
                        event = line[6:].strip()
                    elif line.startswith("data:"):
                        data.append(line[5:].lstrip(" "))
                    elif line == "" and data:
                        self.events.put(SseEvent(event, "\n".join(data)))
                        event, data = "message", []
            self.events.put(None)  # the server ended the stream
        except Exception as exc:
            self._opened.set()
            self.events.put(exc)

    def next(self, timeout: float = 10.0, *, comments: bool = False) -> SseEvent | None:
        """The next event (None when the server closed the stream); fails after ``timeout``."""
        deadline = time.monotonic() + timeout
        while True:
            item = self.events.get(timeout=max(0.0, deadline - time.monotonic()))
            if isinstance(item, BaseException):
                if isinstance(item, httpx.StreamClosed | httpx.ReadError | httpx.RemoteProtocolError):
                    return None
                raise item
            if item is None or comments or item.event != ":":
                return item

    def until(self, predicate: Callable[[SseEvent], bool], timeout: float = 10.0) -> SseEvent:
        deadline = time.monotonic() + timeout
        while True:
            event = self.next(max(0.01, deadline - time.monotonic()))
            assert event is not None, "the stream ended"
            if predicate(event):
                return event


def stream(base_url: str, sdk_key: str, path: str = "/all") -> SseReader:
    return SseReader(f"{base_url}{path}", {"Authorization": sdk_key, "Accept": "text/event-stream"})


def sdk_config(base_url: str, sdk_key: str, **options: Any) -> Config:
    options.setdefault("diagnostic_opt_out", True)
    return Config(sdk_key, base_uri=base_url, stream_uri=base_url, events_uri=base_url, **options)


@contextmanager
def sdk_client(base_url: str, sdk_key: str, *, start_wait: float = 10.0, **options: Any) -> Iterator[ldclient.LDClient]:
    client = ldclient.LDClient(sdk_config(base_url, sdk_key, **options), start_wait=start_wait)
    try:
        yield client
    finally:
        client.close()
