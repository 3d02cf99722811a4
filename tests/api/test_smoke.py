"""The server starts on both stores, answers health checks and refuses unknown tokens."""

from __future__ import annotations

import re

import httpx
import launchdarkly_api
import pytest
from launchdarkly_api.api.projects_api import ProjectsApi

from tests.support import ldapi
from tests.support.server import ServerProcess


def test_health_and_readiness(server: ServerProcess) -> None:
    assert httpx.get(f"{server.url}/healthz").status_code == 200
    assert httpx.get(f"{server.url}/readyz").json()["status"] == "ok"


def test_unknown_token_is_401_in_launchdarkly_shape(server: ServerProcess) -> None:
    response = httpx.get(f"{server.url}/api/v2/projects", headers={"Authorization": "api-nope"})
    assert response.status_code == 401
    body = response.json()
    assert body["code"] == "unauthorized"
    assert body["message"] == "Invalid access token"


def test_official_client_creates_and_reads_a_project(server: ServerProcess) -> None:
    with ldapi.client(server.url, server.admin_token) as api_client:
        projects = ProjectsApi(api_client)
        created = projects.post_project(launchdarkly_api.ProjectPost(key="smoke", name="Smoke"))
        assert created.key == "smoke"
        assert {e.key for e in created.environments} == {"production", "test"}
        fetched = projects.get_project("smoke", expand="environments")
        assert fetched.name == "Smoke"
        with pytest.raises(launchdarkly_api.ApiException) as info:
            projects.get_project("nope")
        assert info.value.status == 404


def test_docs_load_swagger_ui_from_the_server_itself(server: ServerProcess) -> None:
    """/docs works without internet access: every script, style sheet and icon it references is served by
    flagward, with the right content type."""
    page = httpx.get(f"{server.url}/docs")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    references = re.findall(r"""(?:src|href)\s*=\s*["']([^"']+)["']""", page.text)
    assert not [r for r in re.findall(r"""["'](\w+:)?//[^"']*["']""", page.text)], "an external URL"
    assert {r.rsplit("/", 1)[-1] for r in references} >= {"swagger-ui-bundle.js", "swagger-ui.css"}
    kinds = {".js": "text/javascript", ".css": "text/css", ".png": "image/png"}
    for reference in references:
        assert reference.startswith("/"), reference
        asset = httpx.get(f"{server.url}{reference}")
        assert asset.status_code == 200, reference
        assert asset.headers["content-type"].startswith(kinds[reference[reference.rindex(".") :]]), reference
        assert len(asset.content) > 0
    assert "'/openapi.json'" in page.text or '"/openapi.json"' in page.text
