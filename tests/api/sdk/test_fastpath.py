"""The SDK hot paths answered inside the HTTP protocol (``flagward.http.sdk.fastpath``), on a real server:
raw HTTP/1.1 on one connection, so keep-alive, pipelining and the exact bytes are what is tested."""

from __future__ import annotations

import gzip
import json
import re
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import httpx
import pytest

from tests.support.sdk import Env, Rest, wait_until
from tests.support.server import ServerProcess


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes = b""
    chunks: list[bytes] = field(default_factory=list)


class Connection:
    """One raw keep-alive connection, reading responses in order."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.buffer = b""

    def close(self) -> None:
        self.sock.close()

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def _fill(self) -> None:
        data = self.sock.recv(1 << 20)
        if not data:
            raise EOFError("connection closed")
        self.buffer += data

    def _until(self, marker: bytes) -> bytes:
        while marker not in self.buffer:
            self._fill()
        head, self.buffer = self.buffer.split(marker, 1)
        return head

    def _exactly(self, count: int) -> bytes:
        while len(self.buffer) < count:
            self._fill()
        data, self.buffer = self.buffer[:count], self.buffer[count:]
        return data

    def head(self) -> Response:
        lines = self._until(b"\r\n\r\n").decode("latin-1").split("\r\n")
        headers: dict[str, str] = {}
        for line in lines[1:]:
            name, value = line.split(":", 1)
            assert name.lower() not in headers, f"header {name} twice"
            headers[name.lower()] = value.strip()
        return Response(int(lines[0].split()[1]), headers)

    def chunk(self) -> bytes:
        size = int(self._until(b"\r\n"), 16)
        data = self._exactly(size)
        assert self._exactly(2) == b"\r\n"
        return data

    def response(self, *, head_request: bool = False) -> Response:
        response = self.head()
        if "content-length" in response.headers and not head_request:
            response.body = self._exactly(int(response.headers["content-length"]))
        elif response.headers.get("transfer-encoding") == "chunked":
            while chunk := self.chunk():
                response.body += chunk
        return response


def get(path: str, key: str, *extra: str) -> bytes:
    lines = [f"GET {path} HTTP/1.1", "Host: test", f"Authorization: {key}", *extra]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


@pytest.fixture(scope="module")
def env(api: Rest) -> Env:
    env = api.create_project("fastpath")["production"]
    for key in ("alpha", "beta"):
        api.create_flag(env.project, key)
    api.create_segment(env, "seg-one")
    return env


@pytest.fixture
def conn(server: ServerProcess, env: Env) -> Iterator[Connection]:
    # The first request for an environment loads it (through the application); later ones are fast.
    assert httpx.get(f"{server.url}/sdk/latest-all", headers={"Authorization": env.sdk_key}).status_code == 200
    connection = Connection(server.port)
    yield connection
    connection.close()


def test_latest_all_plain_gzip_and_304_on_one_connection(server: ServerProcess, env: Env, conn: Connection) -> None:
    through_httpx = httpx.get(f"{server.url}/sdk/latest-all", headers={"Authorization": env.sdk_key})
    conn.send(get("/sdk/latest-all", env.sdk_key))
    plain = conn.response()
    assert plain.status == 200
    assert plain.body == through_httpx.content
    assert set(json.loads(plain.body)["flags"]) == {"alpha", "beta"}
    assert plain.headers["content-type"] == "application/json"
    assert plain.headers["etag"] == through_httpx.headers["etag"]
    assert plain.headers["cache-control"] == "no-cache"
    assert plain.headers["vary"] == "Accept-Encoding"
    assert "date" in plain.headers
    assert "content-encoding" not in plain.headers

    conn.send(get("/sdk/latest-all", env.sdk_key, "Accept-Encoding: gzip, deflate"))
    zipped = conn.response()
    assert zipped.status == 200
    assert zipped.headers["content-encoding"] == "gzip"
    assert gzip.decompress(zipped.body) == plain.body

    etag = plain.headers["etag"]
    for match in (etag, f'"nope", W/{etag}', "*"):
        conn.send(get("/sdk/latest-all", env.sdk_key, f"If-None-Match: {match}"))
        not_modified = conn.response()
        assert not_modified.status == 304
        assert not_modified.body == b""
        assert not_modified.headers["etag"] == etag
        assert "content-length" not in not_modified.headers
        assert "transfer-encoding" not in not_modified.headers

    conn.send(get("/sdk/latest-all", env.sdk_key, 'If-None-Match: "stale"'))
    assert conn.response().body == plain.body


def test_maps_and_items(server: ServerProcess, env: Env, conn: Connection) -> None:
    paths = ("/sdk/latest-flags", "/sdk/flags", "/sdk/latest-segments", "/sdk/latest-flags/alpha", "/sdk/flags/beta")
    for path in paths:
        conn.send(get(path, env.sdk_key))
        fast = conn.response()
        slow = httpx.get(f"{server.url}{path}?via=application", headers={"Authorization": env.sdk_key})
        assert (fast.status, fast.body) == (200, slow.content), path
        assert fast.headers["content-type"] == "application/json"
    for path in ("/sdk/latest-segments/seg-one", "/sdk/segments/seg-one"):
        conn.send(get(path, env.sdk_key))
        assert json.loads(conn.response().body)["key"] == "seg-one"
    conn.send(get("/sdk/latest-flags/missing", env.sdk_key))
    missing = conn.response()
    assert missing.status == 404
    assert json.loads(missing.body)["code"] == "not_found"
    conn.send(get("/sdk/latest-all", env.sdk_key))  # the connection goes on after the application's answer
    assert conn.response().status == 200


def test_pipelined_requests_are_answered_in_order(server: ServerProcess, env: Env, conn: Connection) -> None:
    event = json.dumps([{"kind": "identify", "creationDate": 1, "context": {"kind": "user", "key": "u"}}]).encode()
    conn.send(
        get("/sdk/latest-flags/alpha", env.sdk_key)
        + f"POST /bulk HTTP/1.1\r\nHost: t\r\nAuthorization: {env.sdk_key}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(event)}\r\n\r\n".encode()
        + event
        + get("/sdk/latest-flags/beta", env.sdk_key)  # behind the application's request: it waits for it
        + b"GET /sdk/latest-flags/alpha HTTP/1.1\r\nHost: t\r\nAuthorization: "
        + env.sdk_key.encode()
        + b"\r\nContent-Length: 5\r\n\r\nhello"  # a body on a fast GET is read and ignored
        + get("/healthz", env.sdk_key)
        + get("/sdk/latest-segments/seg-one", env.sdk_key)
    )
    answers = [conn.response() for _ in range(6)]
    assert [a.status for a in answers] == [200, 202, 200, 200, 200, 200]
    assert json.loads(answers[0].body)["key"] == "alpha"
    assert json.loads(answers[2].body)["key"] == "beta"
    assert json.loads(answers[3].body)["key"] == "alpha"
    assert json.loads(answers[5].body)["key"] == "seg-one"


def test_unknown_keys_and_what_the_application_answers(server: ServerProcess, env: Env, conn: Connection) -> None:
    for path in ("/sdk/latest-all", "/sdk/latest-flags", "/sdk/flags/alpha", "/all", "/flags"):
        conn.send(get(path, "sdk-00000000-0000-0000-0000-000000000000"))
        refused = conn.response()
        assert refused.status == 401, path
        error = json.loads(refused.body)
        assert (error["code"], error["message"]) == ("unauthorized", "Invalid SDK key")
    conn.send(b"GET /sdk/latest-all HTTP/1.1\r\nHost: t\r\n\r\n")
    assert conn.response().status == 401
    conn.send(get("/sdk/latest-all", env.mobile_key))  # a mobile key is no SDK key
    assert conn.response().status == 401
    conn.send(get("/sdk/latest-all", f"api_key {env.sdk_key}"))  # Relay's form
    assert conn.response().status == 200
    conn.send(f"HEAD /sdk/latest-all HTTP/1.1\r\nHost: t\r\nAuthorization: {env.sdk_key}\r\n\r\n".encode())
    assert conn.response(head_request=True).status in (404, 405)  # as before: the application answers HEAD
    conn.send(get("/sdk/latest-all", env.sdk_key, "Connection: close"))
    last = conn.response()
    assert last.status == 200
    assert last.headers["connection"] == "close"


def _metric(server: ServerProcess, name: str) -> float:
    text = httpx.get(f"{server.url}/metrics").text
    match = re.search(rf"^{re.escape(name)} (\S+)$", text, re.MULTILINE)
    return float(match.group(1)) if match else 0.0


def test_metrics_count_fast_answers(server: ServerProcess, env: Env, conn: Connection) -> None:
    ok = 'flagward_sdk_latest_all_responses_total{status="200"}'
    not_modified = 'flagward_sdk_latest_all_responses_total{status="304"}'
    polling = 'flagward_sdk_requests_total{endpoint="polling"}'
    before = [_metric(server, name) for name in (ok, not_modified, polling)]
    conn.send(get("/sdk/latest-all", env.sdk_key))
    etag = conn.response().headers["etag"]
    conn.send(get("/sdk/latest-all", env.sdk_key, f"If-None-Match: {etag}") + get("/sdk/latest-flags", env.sdk_key))
    conn.response()
    conn.response()
    after = [_metric(server, name) for name in (ok, not_modified, polling)]
    assert [a - b for a, b in zip(after, before, strict=True)] == [1, 1, 1]


def test_a_stream_gets_its_put_then_each_change_as_one_chunk(server: ServerProcess, env: Env, api: Rest) -> None:
    assert httpx.get(f"{server.url}/sdk/latest-all", headers={"Authorization": env.sdk_key}).status_code == 200
    connected = 'flagward_sdk_streams_connected{kind="server"}'
    before = _metric(server, connected)
    streams = [Connection(server.port) for _ in range(2)]
    try:
        streams[0].send(get("/all", env.sdk_key, "Accept: text/event-stream"))
        streams[1].send(get("/flags", env.sdk_key, "Accept: text/event-stream"))
        heads = [s.head() for s in streams]
        for head in heads:
            assert head.status == 200
            assert head.headers["content-type"] == "text/event-stream; charset=utf-8"
            assert head.headers["transfer-encoding"] == "chunked"
        put = streams[0].chunk()
        assert put.startswith(b"event: put\ndata: ") and put.endswith(b"\n\n")
        assert set(json.loads(put.split(b"data: ", 1)[1])["data"]["flags"]) >= {"alpha", "beta"}
        flags_put = streams[1].chunk()
        assert "alpha" in json.loads(flags_put.split(b"data: ", 1)[1])
        wait_until(lambda: _metric(server, connected) == before + 2)

        api.turn_on(env.project, "alpha", env.key)
        patch = streams[0].chunk()
        assert patch.startswith(b"event: patch\n")
        body = json.loads(patch.split(b"data: ", 1)[1])
        assert body["path"] == "/flags/alpha" and body["data"]["on"] is True
        assert json.loads(streams[1].chunk().split(b"data: ", 1)[1])["path"] == "/alpha"
    finally:
        for s in streams:
            s.close()
    wait_until(lambda: _metric(server, connected) == before)


def test_a_stream_opened_before_its_environment_loads_is_served_by_the_application(
    server: ServerProcess, api: Rest
) -> None:
    env = api.create_project("fastpath-cold")["production"]
    stream = Connection(server.port)
    try:
        stream.send(get("/all", env.sdk_key))
        assert stream.head().status == 200
        assert stream.chunk().startswith(b"event: put\n")
        started = time.monotonic()
        api.create_flag(env.project, "late")
        assert b'"path":"/flags/late"' in stream.chunk()
        assert time.monotonic() - started < 10
    finally:
        stream.close()


KEEP_ALIVE_SECONDS = 5  # uvicorn's default, which flagward serve keeps


def test_keep_alive_closes_an_idle_connection_and_spares_a_busy_one(
    server: ServerProcess, env: Env, conn: Connection
) -> None:
    """The keep-alive timer is armed once per idle spell (``SdkFastProtocol.on_response_complete``): a
    timer armed by an early response must not close a connection that answered again since, and the last
    idle spell still ends the connection."""
    started = time.monotonic()
    for _ in range(4):  # a request every 2 s, for longer than the keep-alive timeout
        conn.send(get("/sdk/latest-all", env.sdk_key, "If-None-Match: *"))
        assert conn.response().status == 304
        time.sleep(2)
    assert time.monotonic() - started > KEEP_ALIVE_SECONDS + 2
    conn.send(get("/sdk/latest-flags", env.sdk_key))
    assert conn.response().status == 200  # still open: each response moved the idle spell's end

    idle_from = time.monotonic()
    conn.sock.settimeout(KEEP_ALIVE_SECONDS + 5)
    with pytest.raises(EOFError):
        conn._fill()  # the server closes the connection once it has been idle for the timeout
    waited = time.monotonic() - idle_from
    assert KEEP_ALIVE_SECONDS - 0.5 <= waited <= KEEP_ALIVE_SECONDS + 3, waited
