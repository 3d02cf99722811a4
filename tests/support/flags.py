"""Flags made and changed over HTTP for integration tests: through a real server's REST API."""

from __future__ import annotations

import json

import httpx

SEMANTIC = "application/json; domain-model=launchdarkly.semanticpatch"


def create_flags(client: httpx.Client, project: str, *keys: str) -> None:
    for key in keys:
        response = client.post(f"/api/v2/flags/{project}", json={"key": key, "name": key})
        assert response.status_code == 201, response.text


def first_variation_id(client: httpx.Client, project: str, flag: str) -> str:
    response = client.get(f"/api/v2/flags/{project}/{flag}")
    assert response.status_code == 200, response.text
    return str(response.json()["variations"][0]["_id"])


def semantic_patch(
    client: httpx.Client, project: str, flag: str, *instructions: dict[str, object], env: str = "production"
) -> httpx.Response:
    body = {"environmentKey": env, "instructions": list(instructions)}
    return client.patch(f"/api/v2/flags/{project}/{flag}", content=json.dumps(body), headers={"Content-Type": SEMANTIC})


def add_prerequisite(
    client: httpx.Client, project: str, flag: str, prerequisite: str, variation: str
) -> httpx.Response:
    """``addPrerequisite`` in production: ``flag`` requires ``prerequisite`` to serve ``variation`` (an id)."""
    return semantic_patch(
        client, project, flag, {"kind": "addPrerequisite", "key": prerequisite, "variationId": variation}
    )
