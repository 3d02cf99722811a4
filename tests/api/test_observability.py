"""Operating flagward: ``GET /metrics`` (Prometheus), request ids in responses, error bodies and logs."""

from __future__ import annotations

import json
import re
import signal
import uuid
from pathlib import Path

import httpx
import yaml
from prometheus_client.parser import text_string_to_metric_families

from flagward import metrics as metrics_module
from tests.support.approvals import PRODUCTION, Arena
from tests.support.sdk import rest, wait_until
from tests.support.server import ServerProcess, free_port


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of a scrape, parsed by the client library's own parser (so the format is valid)."""
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(scrape: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str, **labels: str) -> float:
    return scrape.get((name, tuple(sorted(labels.items()))), 0.0)


def scrape(server: ServerProcess) -> tuple[str, dict[tuple[str, tuple[tuple[str, str], ...]], float]]:
    response = httpx.get(f"{server.url}/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return response.text, samples(response.text)


def test_http_requests_are_counted_by_route_template_never_by_key(server: ServerProcess) -> None:
    with rest(server.url, server.admin_token) as api:
        env = api.create_project()["production"]
        _, before = scrape(server)
        for _ in range(3):
            api.http.get(f"/api/v2/projects/{env.project}")
        api.http.get("/api/v2/projects/no-such-project")
    text, after = scrape(server)
    route = "/api/v2/projects/{projectKey}"
    counted = "flagward_http_requests_total"
    assert (
        value(after, counted, route=route, method="GET", status="2xx")
        - value(before, counted, route=route, method="GET", status="2xx")
        == 3
    )
    assert value(after, counted, route=route, method="GET", status="4xx") >= 1
    # A request with a body too (the body-checking middleware hands on a copy of the request's scope).
    assert value(after, counted, route="/api/v2/projects", method="POST", status="2xx") >= 1
    assert value(after, counted, route="unmatched", method="POST", status="2xx") == 0
    histogram = "flagward_http_request_duration_seconds_bucket"
    assert value(after, histogram, route=route, method="GET", le="0.001") <= value(
        after, histogram, route=route, method="GET", le="10.0"
    )
    assert env.project not in text and "no-such-project" not in text
    assert server.admin_token not in text


def test_sdk_delivery_is_counted_without_keys(server: ServerProcess) -> None:
    with rest(server.url, server.admin_token) as api:
        env = api.create_project()["production"]
    headers = {"Authorization": env.sdk_key}
    _, before = scrape(server)
    first = httpx.get(f"{server.url}/sdk/latest-all", headers=headers)
    assert first.status_code == 200
    again = httpx.get(f"{server.url}/sdk/latest-all", headers={**headers, "If-None-Match": first.headers["etag"]})
    assert again.status_code == 304
    with httpx.stream("GET", f"{server.url}/all", headers=headers, timeout=10) as stream:
        chunks = stream.iter_raw()  # kept: a dropped iterator closes the response
        assert next(chunks).startswith(b"event: put")
        text, during = scrape(server)
        assert value(during, "flagward_sdk_streams_connected", kind="server") >= 1
    assert (
        value(during, "flagward_sdk_latest_all_responses_total", status="200")
        - value(before, "flagward_sdk_latest_all_responses_total", status="200")
        == 1
    )
    assert (
        value(during, "flagward_sdk_latest_all_responses_total", status="304")
        - value(before, "flagward_sdk_latest_all_responses_total", status="304")
        == 1
    )
    assert value(during, "flagward_sdk_stream_events_sent_total") >= 1
    assert value(during, "flagward_sdk_payload_builds_total", payload="put") >= 1
    assert "flagward_sdk_slow_readers_dropped_total" in text
    assert env.sdk_key not in text and env.mobile_key not in text and env.id not in text
    # SDK requests have their own counters, not the REST API's per-route series.
    assert not any(dict(labels).get("route", "").startswith(("/sdk", "/all")) for _, labels in during)


def test_store_and_governance_gauges(server: ServerProcess) -> None:
    arena = Arena(server.url, server.admin_token)
    try:
        arena.create_project(required=True, minNumApprovals=1)
        arena.create_flag("gauged")
        created = arena.http.post(
            f"/api/v2/projects/{arena.project}/flags/gauged/environments/{PRODUCTION}/approval-requests",
            json={"description": "turn it on", "instructions": [{"kind": "turnFlagOn"}]},
        )
        assert created.status_code == 201, created.text
    finally:
        arena.close()
    labels = {"project": arena.project, "environment": PRODUCTION, "status": "pending", "reviews": "none"}

    # Scrape-time gauges are cached for a few seconds: the request shows at the latest after that.
    def counted() -> dict[tuple[str, tuple[tuple[str, str], ...]], float] | None:
        found = scrape(server)[1]
        return found if value(found, "flagward_approval_requests", **labels) else None

    found = wait_until(counted)
    assert value(found, "flagward_approval_requests", **labels) == 1
    assert value(found, "flagward_store_up") == 1
    assert value(found, "flagward_store_transaction_seconds_count", kind="write") > 0
    assert any(name == "flagward_store_optimistic_lock_conflicts_total" for name, _ in found)


def test_request_ids_are_echoed_and_carried_by_error_bodies(server: ServerProcess) -> None:
    given = httpx.get(f"{server.url}/api/v2/projects", headers={"X-Request-Id": "trace-42.a_b:c"})
    assert given.headers["x-request-id"] == "trace-42.a_b:c"
    assert given.status_code == 401 and given.json()["id"] == "trace-42.a_b:c"
    for bad in ("has space", "x" * 129, 'quote"d', "new\\nline"):
        refused = httpx.get(f"{server.url}/api/v2/projects", headers={"X-Request-Id": bad})
        generated = refused.headers["x-request-id"]
        assert generated != bad and str(uuid.UUID(generated)) == generated
        assert refused.json()["id"] == generated
    other = httpx.get(f"{server.url}/api/v2/projects")
    assert other.headers["x-request-id"] != generated


def test_json_logs_metrics_port_and_token_and_sigterm(tmp_path: Path) -> None:
    metrics_port = free_port()
    server = ServerProcess(
        database_url=f"sqlite:///{tmp_path}/flagward.db",
        workdir=tmp_path,
        extra_env={"FLAGWARD_METRICS_TOKEN": "scrape-secret-0123"},
        extra_args=["--log-format", "json", "--log-level", "info", "--metrics-port", str(metrics_port)],
    )
    with server:
        own = f"http://127.0.0.1:{metrics_port}/metrics"
        assert httpx.get(own).status_code == 401
        assert httpx.get(own, headers={"Authorization": "Bearer wrong"}).status_code == 401
        scraped = httpx.get(own, headers={"Authorization": "Bearer scrape-secret-0123"})
        assert scraped.status_code == 200 and "flagward_http_requests_total" in scraped.text
        assert httpx.get(f"{server.url}/metrics").status_code == 404  # not on the main port then
        ok = httpx.get(
            f"{server.url}/api/v2/projects", headers={"Authorization": server.admin_token, "X-Request-Id": "r-1"}
        )
        assert ok.status_code == 200
        assert server.process is not None
        server.process.send_signal(signal.SIGTERM)
        assert server.process.wait(timeout=30) == 0
    lines = [json.loads(line) for line in server.logs().splitlines() if line.startswith("{")]
    access = [line for line in lines if line["logger"] == "flagward.access" and line.get("request_id") == "r-1"]
    assert len(access) == 1
    (entry,) = access
    assert entry["route"] == "/api/v2/projects" and entry["status"] == 200 and entry["method"] == "GET"
    assert entry["actor"].startswith("token:") and isinstance(entry["duration_ms"], float)
    (start,) = [line for line in lines if line["message"] == "starting"]
    assert start["configuration"]["admin_token"] == "<redacted>"
    assert start["configuration"]["metrics_token"] == "<redacted>"
    assert start["configuration"]["metrics_port"] == metrics_port
    assert server.admin_token not in server.logs() and "scrape-secret-0123" not in server.logs()
    assert any(line["message"] == "stopped" for line in lines)


def test_the_readme_production_examples_are_well_formed() -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    section = readme[readme.index("\n## Running in production\n") :]
    (scrape_config,) = re.findall(r"```yaml\n(.*?)```", section, flags=re.S)
    (job,) = yaml.safe_load(scrape_config)["scrape_configs"]
    assert job["metrics_path"] == "/metrics"
    (example,) = re.findall(r"```json\n(.*?)\n```", section, flags=re.S)
    line = json.loads(example)
    assert {"time", "level", "logger", "message", "request_id", "actor", "route", "status", "duration_ms"} <= set(line)
    assert line["actor"].startswith("token:")
    for metric in re.findall(r"`(flagward_[a-z_]+)", section):
        assert metric.removesuffix("_total") in EXPORTED, metric


EXPORTED = (
    {
        name.removesuffix("_total")
        for name in re.findall(r'"(flagward_[a-z_]+)"', Path(metrics_module.__file__).read_text())
    }
    | {"flagward_approval_requests", "flagward_store_up", "flagward_pg_pool_in_use", "flagward_pg_pool_size"}
    | {
        "flagward_pg_pool_max",
        "flagward_outbox_pending",
        "flagward_outbox_oldest_pending_age_seconds",
        "flagward_outbox_dead",
    }
)
