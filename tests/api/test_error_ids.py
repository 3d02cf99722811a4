"""An unexpected error: a 500 in LaunchDarkly's error shape whose ``id`` is the request's id, and one log
line for it, with that id and the traceback."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from flagward.bootstrap import build_services
from flagward.config import Settings
from flagward.http.app import create_app
from flagward.logs import JsonFormatter
from tests.support.inprocess import InProcess


@pytest.fixture
def log_lines() -> Iterator[io.StringIO]:
    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield buffer
    finally:
        root.removeHandler(handler)


def test_an_unhandled_error_is_a_500_with_the_request_id_logged_once(tmp_path: Path, log_lines: io.StringIO) -> None:
    services = build_services(Settings(database_url=f"sqlite:///{tmp_path}/flagward.db"))
    app = create_app(services.settings, services.deps, services.sdk)

    def broken() -> None:
        raise RuntimeError("the thing broke")

    app.add_api_route("/api/v2/broken", broken)
    client = InProcess(app)
    try:
        response = client.request("GET", "/api/v2/broken", headers={"X-Request-Id": "oops-1"})
        generated = client.request("GET", "/api/v2/broken")
    finally:
        client.close()
        services.close()
    assert response.status_code == 500
    assert response.json() == {
        "code": "internal_server_error",
        "message": "An unexpected error occurred",
        "id": "oops-1",
    }
    assert response.headers["x-request-id"] == "oops-1"
    assert generated.json()["id"] == generated.headers["x-request-id"] != "oops-1"
    lines = [json.loads(line) for line in log_lines.getvalue().splitlines()]
    errors = [line for line in lines if line["level"] == "error" and line.get("request_id") == "oops-1"]
    assert len(errors) == 1
    assert "RuntimeError: the thing broke" in errors[0]["exception"]
