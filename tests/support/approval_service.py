"""A real external approval service for the tests: an HTTP server in a thread that speaks flagward's
generic JSON contract. It verifies every call's signature with its own HMAC code (not flagward's), keeps
what it was sent, creates records, answers status reads from ``statuses``, and signs callbacks."""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import itertools
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx

SECRET = "approval-service-shared-secret-for-tests"
SECRET_ENV = "FLAGWARD_APPROVAL_SECRET_TESTS"


def signature(secret: str, timestamp: str, body: bytes) -> str:
    return hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


@dataclass
class Call:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    signed: bool  # the signature verified with SECRET


@dataclass
class Service:
    url: str = ""
    calls: list[Call] = field(default_factory=list)
    statuses: dict[str, dict[str, str]] = field(default_factory=dict)  # externalId -> status it reports
    created: dict[str, str] = field(default_factory=dict)  # flagward request id -> externalId
    answer_status: int = 201
    _ids: Iterator[int] = field(default_factory=lambda: itertools.count(1))
    lock: threading.Lock = field(default_factory=threading.Lock)

    def creations(self) -> list[Call]:
        with self.lock:
            return [c for c in self.calls if c.method == "POST"]

    def reads(self) -> list[Call]:
        with self.lock:
            return [c for c in self.calls if c.method == "GET"]

    def wait_created(self, request_id: str, timeout: float = 20.0) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if request_id in self.created:
                    return self.created[request_id]
            time.sleep(0.05)
        raise AssertionError(f"the service was never asked to create a record for {request_id}")


def config(service: Service, **settings: Any) -> dict[str, Any]:
    """Approval settings naming ``service`` (``generic``), for an environment PATCH."""
    return {
        "required": True,
        "minNumApprovals": 1,
        "serviceKind": "generic",
        "serviceConfig": {"url": service.url, "secretEnv": SECRET_ENV},
        **settings,
    }


def callback(
    base_url: str,
    request_id: str,
    body: dict[str, Any],
    *,
    secret: str = SECRET,
    timestamp: int | None = None,
    sign: bool = True,
) -> httpx.Response:
    """POST the signed callback the way a service would."""
    raw = json.dumps(body).encode()
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    headers = {"Content-Type": "application/json"}
    if sign:
        headers |= {"X-Flagward-Timestamp": stamp, "X-Flagward-Signature": signature(secret, stamp, raw)}
    url = f"{base_url}/api/v2/approval-requests/{request_id}/integration-callback"
    return httpx.post(url, content=raw, headers=headers, timeout=30)


def _handler(service: Service) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *_: Any) -> None:
            pass

        def _call(self, body: bytes) -> Call:
            stamp = self.headers.get("X-Flagward-Timestamp", "")
            sent = self.headers.get("X-Flagward-Signature", "")
            signed = hmac.compare_digest(signature(SECRET, stamp, body), sent)
            call = Call(self.command, self.path, dict(self.headers.items()), body, signed)
            with service.lock:
                service.calls.append(call)
            return call

        def _answer(self, status: int, doc: dict[str, Any]) -> None:
            data = json.dumps(doc).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self) -> None:
            call = self._call(self.rfile.read(int(self.headers.get("Content-Length", 0))))
            if not call.signed:
                return self._answer(401, {"error": "bad signature"})
            if service.answer_status >= 300:
                return self._answer(service.answer_status, {"error": "refused"})
            request_id = json.loads(call.body)["approvalRequest"]["_id"]
            with service.lock:
                external_id = service.created.get(request_id) or f"CHG{next(service._ids):04d}"
                service.statuses.setdefault(external_id, {"value": "pending", "display": "Awaiting CAB"})
                service.created[request_id] = external_id
                status = service.statuses[external_id]
            url = f"https://itsm.example.com/change/{external_id}"
            answer = {"externalId": external_id, "externalUrl": url, "status": status}
            return self._answer(service.answer_status, answer)

        def do_GET(self) -> None:
            call = self._call(b"")
            external_id = self.path.rstrip("/").rsplit("/", 1)[-1]
            with service.lock:
                status = service.statuses.get(external_id)
            if not call.signed or status is None:
                return self._answer(401 if not call.signed else 404, {"error": "no"})
            return self._answer(200, {"externalId": external_id, "status": status})

    return Handler


@contextlib.contextmanager
def approval_service() -> Iterator[Service]:
    service = Service()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(service))
    service.url = f"http://127.0.0.1:{server.server_address[1]}/changes"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield service
    finally:
        server.shutdown()
        server.server_close()
