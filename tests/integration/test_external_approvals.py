"""External approval services against real ``flagward serve`` processes (SQLite and PostgreSQL) and a
real service (``tests.support.approval_service``): the signed creation call through the outbox,
``integrationMetadata`` stored and read by the official client, decisions through the signed callback
(approve then apply, decline, replays, bad signatures) and through polling when no callback comes."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from launchdarkly_api.api.approvals_api import ApprovalsApi

from tests.support import ldapi
from tests.support.accounts import unique
from tests.support.approval_service import (
    SECRET,
    SECRET_ENV,
    Service,
    approval_service,
    callback,
    config,
)
from tests.support.databases import database_url
from tests.support.server import ServerProcess, free_port

pytestmark = pytest.mark.slow
STORES = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@pytest.fixture(scope="module")
def service() -> Iterator[Service]:
    with approval_service() as running:
        yield running


@pytest.fixture(scope="module", params=STORES)
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    env = {
        "FLAGWARD_WEBHOOK_ALLOW_PRIVATE": "1",
        SECRET_ENV: SECRET,
        "FLAGWARD_EXTERNAL_APPROVAL_POLL_SECONDS": "1",
        "FLAGWARD_DELIVERY_RETRY_BASE_SECONDS": "0.2",
    }
    workdir = tmp_path_factory.mktemp("external")
    with (
        database_url(request.param, workdir) as url,
        ServerProcess(database_url=url, workdir=workdir, extra_env=env) as process,
    ):
        yield process


def admin(server: ServerProcess) -> httpx.Client:
    return httpx.Client(base_url=server.url, headers={"Authorization": server.admin_token}, timeout=30)


def project(server: ServerProcess, settings: dict[str, Any] | None) -> str:
    """A project whose production environment uses ``settings`` (None: flagward's own reviews), and a flag."""
    key = unique("ext")
    env = {"key": "production", "name": "Production", "color": "ff0000"}
    with admin(server) as http:
        assert http.post("/api/v2/projects", json={"key": key, "name": key, "environments": [env]}).is_success
        assert http.post(f"/api/v2/flags/{key}", json={"key": "checkout", "name": "Checkout"}).is_success
        if settings is not None:
            patch = [{"op": "replace", "path": "/approvalSettings", "value": settings}]
            response = http.patch(f"/api/v2/projects/{key}/environments/production", json=patch)
            assert response.status_code == 200, response.text
    return key


def request_change(server: ServerProcess, key: str, description: str = "Turn checkout on") -> str:
    body = {"description": description, "instructions": [{"kind": "turnFlagOn"}], "comment": "for the launch"}
    path = f"/api/v2/projects/{key}/flags/checkout/environments/production/approval-requests"
    with admin(server) as http:
        response = http.post(path, json=body)
    assert response.status_code == 201, response.text
    request_id: str = response.json()["_id"]
    return request_id


def read(server: ServerProcess, request_id: str) -> dict[str, Any]:
    with admin(server) as http:
        response = http.get(f"/api/v2/approval-requests/{request_id}")
    assert response.status_code == 200, response.text
    doc: dict[str, Any] = response.json()
    return doc


def wait_for(server: ServerProcess, request_id: str, test: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        doc = read(server, request_id)
        if test(doc):
            return doc
        time.sleep(0.1)
    raise AssertionError(f"request {request_id} never got there: {doc}")


def linked(server: ServerProcess, service: Service, key: str) -> tuple[str, str]:
    """A new request in ``key``'s production, linked to its external record."""
    request_id = request_change(server, key)
    external_id = service.wait_created(request_id)
    wait_for(server, request_id, lambda d: "integrationMetadata" in d)
    return request_id, external_id


def flag_on(server: ServerProcess, key: str) -> bool:
    with admin(server) as http:
        on: bool = http.get(f"/api/v2/flags/{key}/checkout").json()["environments"]["production"]["on"]
    return on


def test_a_request_creates_a_signed_external_record_and_shows_its_integration_metadata(
    server: ServerProcess, service: Service
) -> None:
    key = project(server, config(service))
    request_id = request_change(server, key)
    external_id = service.wait_created(request_id)
    call = next(c for c in service.creations() if request_id in c.body.decode())
    assert call.signed  # verified by the service with its own HMAC code
    assert call.headers["X-Flagward-Delivery"]  # the outbox message id: the same on every attempt
    sent = httpx.Response(200, content=call.body).json()
    assert sent["kind"] == "approvalRequest.created"
    assert sent["serviceKind"] == "generic"
    assert sent["approvalRequest"]["_id"] == request_id
    assert sent["approvalRequest"]["resourceId"] == f"proj/{key}:env/production:flag/checkout"
    assert sent["approvalRequest"]["instructions"] == [{"kind": "turnFlagOn"}]
    assert sent["changes"] and all(isinstance(line, str) for line in sent["changes"])
    assert sent["links"]["callback"] == f"{server.url}/api/v2/approval-requests/{request_id}/integration-callback"
    assert SECRET not in call.body.decode()
    doc = wait_for(server, request_id, lambda d: "integrationMetadata" in d)
    assert doc["serviceKind"] == "generic"
    meta = doc["integrationMetadata"]
    assert meta["externalId"] == external_id
    assert meta["externalUrl"] == f"https://itsm.example.com/change/{external_id}"
    assert meta["externalStatus"] == {"value": "pending", "display": "Awaiting CAB"}
    assert meta["lastChecked"] > 0
    with ldapi.client(server.url, server.admin_token) as api_client:
        official = ApprovalsApi(api_client).get_approval_for_flag(key, "checkout", "production", request_id)
    assert official.service_kind == "generic"
    assert official.integration_metadata.external_id == external_id
    assert official.integration_metadata.external_status.display == "Awaiting CAB"
    with admin(server) as http:
        settings = http.get(f"/api/v2/projects/{key}/environments/production").json()["approvalSettings"]
    assert settings["serviceConfig"] == {"url": service.url, "secretEnv": SECRET_ENV}  # the name, never the secret


def test_an_approval_by_callback_lets_the_request_be_applied(server: ServerProcess, service: Service) -> None:
    key = project(server, config(service))
    request_id, external_id = linked(server, service, key)
    service.statuses[external_id] = {"value": "approved", "display": "Approved by the CAB"}
    body = {"externalId": external_id, "status": service.statuses[external_id], "comment": "CAB 2026-12-08"}
    response = callback(server.url, request_id, body)
    assert response.status_code == 200, response.text
    doc = response.json()
    assert doc["reviewStatus"] == "approved"
    assert doc["integrationMetadata"]["externalStatus"] == {"value": "approved", "display": "Approved by the CAB"}
    [review] = doc["allReviews"]
    assert review["kind"] == "approve" and review["comment"] == "CAB 2026-12-08"
    assert "memberId" not in review and "serviceTokenId" not in review
    assert not flag_on(server, key)  # approving does not apply (no autoApplyApprovedChanges)
    with admin(server) as http:
        applied = http.post(f"/api/v2/approval-requests/{request_id}/apply", json={"comment": "go"})
        assert applied.status_code == 200, applied.text
        assert applied.json()["status"] == "completed"
        entries = http.get("/api/v2/auditlog", params={"spec": f"proj/{key}:env/production:flag/checkout"}).json()
    assert flag_on(server, key)
    titles = " ".join(e.get("title", "") + " " + e.get("description", "") for e in entries["items"])
    assert "generic approval service" in titles  # the service's decision is audited under its name


def test_with_auto_apply_the_service_approval_applies_the_request(server: ServerProcess, service: Service) -> None:
    key = project(server, config(service, autoApplyApprovedChanges=True))
    request_id, external_id = linked(server, service, key)
    service.statuses[external_id] = {"value": "approved", "display": "Approved"}
    response = callback(server.url, request_id, {"externalId": external_id, "status": service.statuses[external_id]})
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "completed"
    assert flag_on(server, key)


def test_a_decline_by_callback_declines_and_a_replay_changes_nothing(server: ServerProcess, service: Service) -> None:
    key = project(server, config(service))
    request_id, external_id = linked(server, service, key)
    service.statuses[external_id] = {"value": "declined", "display": "Rejected: freeze week"}
    body = {"externalId": external_id, "status": service.statuses[external_id]}
    first = callback(server.url, request_id, body)
    assert first.status_code == 200, first.text
    assert first.json()["reviewStatus"] == "declined"
    replay = callback(server.url, request_id, body)
    assert replay.status_code == 200
    assert replay.json()["_version"] == first.json()["_version"]
    assert [r["kind"] for r in replay.json()["allReviews"]] == ["decline"]


def test_unsigned_badly_signed_stale_and_misdirected_callbacks_are_refused(
    server: ServerProcess, service: Service
) -> None:
    key = project(server, config(service))
    request_id, external_id = linked(server, service, key)
    approve = {"externalId": external_id, "status": {"value": "approved", "display": "Approved"}}
    assert callback(server.url, request_id, approve, sign=False).status_code == 401
    assert callback(server.url, request_id, approve, secret="not the secret").status_code == 401
    stale = callback(server.url, request_id, approve, timestamp=int(time.time()) - 3600)
    assert stale.status_code == 401
    assert stale.json()["code"] == "unauthorized"
    assert callback(server.url, "0" * 24, approve).status_code == 404
    other = {**approve, "externalId": "CHG-SOMEONE-ELSE"}
    assert callback(server.url, request_id, other).status_code == 400
    doc = read(server, request_id)
    assert doc["reviewStatus"] == "pending" and doc["allReviews"] == []
    own = request_change(server, project(server, {"required": True}))
    assert callback(server.url, own, approve).status_code == 403  # its environment names no external service


def test_polling_decides_when_no_callback_comes(server: ServerProcess, service: Service) -> None:
    key = project(server, config(service, autoApplyApprovedChanges=True))
    request_id, external_id = linked(server, service, key)
    first = read(server, request_id)["integrationMetadata"]["lastChecked"]
    service.statuses[external_id] = {"value": "approved", "display": "Approved in the ITSM"}
    doc = wait_for(server, request_id, lambda d: d["status"] == "completed")
    assert doc["integrationMetadata"]["externalStatus"]["display"] == "Approved in the ITSM"
    assert doc["integrationMetadata"]["lastChecked"] > first
    reads = [c for c in service.reads() if c.path.endswith(f"/changes/{external_id}")]
    assert reads and all(c.signed for c in reads)
    assert flag_on(server, key)


def test_private_endpoints_are_refused_unless_allowed(tmp_path: Path) -> None:
    with database_url("sqlite", tmp_path) as url, ServerProcess(database_url=url, workdir=tmp_path) as server:
        key = project(server, None)
        for endpoint in ("http://127.0.0.1:9/changes", "https://10.0.0.8/changes", "https://localhost/x"):
            settings = {"serviceKind": "generic", "serviceConfig": {"url": endpoint, "secretEnv": SECRET_ENV}}
            patch = [{"op": "replace", "path": "/approvalSettings", "value": settings}]
            with admin(server) as http:
                response = http.patch(f"/api/v2/projects/{key}/environments/production", json=patch)
            assert response.status_code == 400, (endpoint, response.text)
            assert "FLAGWARD_WEBHOOK_ALLOW_PRIVATE" in response.json()["message"]


def readme_receiver() -> str:
    """The README's example receiver, as written."""
    text = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    start = text.index("\n## External approval services\n")
    section = text[start : text.index("\n## ", start + 1)]
    [code] = [c for lang, c in re.findall(r"^```(\w+)\n(.*?)^```$", section, flags=re.S | re.M) if lang == "python"]
    assert code.startswith("# approval_receiver.py")
    return code


def test_the_readme_receiver_approves_and_the_request_is_applied(tmp_path: Path) -> None:
    script = tmp_path / "approval_receiver.py"
    script.write_text(readme_receiver())
    secret, port = "readme-receiver-secret", free_port()
    receiver = subprocess.Popen(
        [sys.executable, str(script)], env={**os.environ, "APPROVAL_SECRET": secret, "PORT": str(port)}
    )
    env = {"FLAGWARD_WEBHOOK_ALLOW_PRIVATE": "1", "FLAGWARD_APPROVAL_SECRET": secret}
    try:
        with (
            database_url("sqlite", tmp_path) as url,
            ServerProcess(database_url=url, workdir=tmp_path, extra_env=env) as server,
        ):
            settings = {
                "required": True,
                "autoApplyApprovedChanges": True,
                "serviceKind": "generic",
                "serviceConfig": {"url": f"http://127.0.0.1:{port}/changes", "secretEnv": "FLAGWARD_APPROVAL_SECRET"},
            }
            key = project(server, settings)
            request_id = request_change(server, key)
            doc = wait_for(server, request_id, lambda d: d["status"] == "completed")
            assert doc["reviewStatus"] == "approved"
            assert doc["integrationMetadata"]["externalId"] == f"CHG-{request_id[-6:]}"
            assert doc["integrationMetadata"]["externalStatus"] == {"value": "approved", "display": "Approved"}
            assert flag_on(server, key)
    finally:
        receiver.terminate()
        receiver.wait(timeout=10)
