"""Flag-level changes a writer may not make directly (variations, archive, delete, tags) go through
approval requests, applied through the same write path; an approval covers its own environment only.
In process (tests/support/inprocess.py) for speed."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.accounts import unique
from tests.support.inprocess import ADMIN, World, in_process_world

SEMANTIC = {"Content-Type": "application/json; domain-model=launchdarkly.semanticpatch"}
REFUSAL = "Flag configuration updates require approval: action '{}' not allowed"


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    with in_process_world(tmp_path_factory.mktemp("flag-level") / "flags.db") as world:
        yield world


class Project:
    """production requires approval for every flag; test for flags tagged ``gated``."""

    def __init__(self, world: World) -> None:
        self.world, self.key = world, unique("lvl")
        self.call("POST", "/api/v2/projects", ADMIN, json={"key": self.key, "name": "Levels"}, expect=201)
        base = f"/api/v2/projects/{self.key}/environments"
        required = [{"op": "replace", "path": "/approvalSettings/required", "value": True}]
        tagged = [{"op": "replace", "path": "/approvalSettings/requiredApprovalTags", "value": ["gated"]}]
        self.call("PATCH", f"{base}/production", ADMIN, json=required, expect=200)
        self.call("PATCH", f"{base}/test", ADMIN, json=tagged, expect=200)

    def call(self, method: str, url: str, token: str, *, expect: int | None = None, **kwargs: Any) -> Any:
        headers = {"Authorization": token, **kwargs.pop("headers", {})}
        response = self.world.client.request(method, url, headers=headers, **kwargs)
        assert response.status_code < 500, response.text
        if expect is not None:
            assert response.status_code == expect, (method, url, response.text)
        return response

    def flag(self, key: str, **body: Any) -> dict[str, Any]:
        response = self.call("POST", f"/api/v2/flags/{self.key}", ADMIN, json={"key": key, "name": key, **body})
        assert response.status_code == 201, response.text
        result: dict[str, Any] = response.json()
        return result

    def get(self, key: str) -> Any:
        return self.call("GET", f"/api/v2/flags/{self.key}/{key}", ADMIN)

    def direct(self, key: str, instruction: dict[str, Any], token: str) -> Any:
        body = json.dumps({"instructions": [instruction]})
        return self.call("PATCH", f"/api/v2/flags/{self.key}/{key}", token, content=body, headers=SEMANTIC)

    def requests_url(self, key: str, env: str) -> str:
        return f"/api/v2/projects/{self.key}/flags/{key}/environments/{env}/approval-requests"

    def request_change(self, key: str, env: str, *instructions: dict[str, Any]) -> str:
        body = {"description": "flag-level change", "instructions": list(instructions)}
        created = self.call("POST", self.requests_url(key, env), self.world.writers[0], json=body, expect=201)
        request_id = str(created.json()["_id"])
        review = {"kind": "approve"}
        self.call(
            "POST",
            f"{self.requests_url(key, env)}/{request_id}/reviews",
            self.world.writers[1],
            json=review,
            expect=200,
        )
        return request_id

    def apply(self, key: str, env: str, request_id: str, token: str) -> Any:
        return self.call("POST", f"{self.requests_url(key, env)}/{request_id}/apply", token, json={})


@pytest.fixture
def project(world: World) -> Project:
    return Project(world)


def _instructions(flag: dict[str, Any]) -> list[tuple[str, dict[str, Any], str]]:
    ids = [v["_id"] for v in flag["variations"]]
    return [
        ("updateFlagVariations", {"kind": "updateVariation", "variationId": ids[2], "value": "zz"}, "values"),
        ("updateFlagVariations", {"kind": "addVariation", "value": "added"}, "values"),
        ("updateFlagVariations", {"kind": "removeVariation", "variationId": ids[1]}, "values"),
        ("updateGlobalArchived", {"kind": "archiveFlag"}, "archived"),
        ("updateGlobalArchived", {"kind": "restoreFlag"}, "archived"),
        (
            "updateClientSideFlagAvailability",
            {"kind": "turnOnClientSideAvailability", "value": "usingEnvironmentId"},
            "csa",
        ),
    ]


def test_flag_level_instructions_are_refused_directly_and_applied_through_requests(project: Project) -> None:
    flag = project.flag("multi", variations=[{"value": "x"}, {"value": "y"}, {"value": "z"}])
    for action, instruction, _ in _instructions(flag):
        before = project.get("multi").json()
        refused = project.direct("multi", instruction, project.world.writers[0])
        assert refused.status_code == 405 and refused.json()["message"] == REFUSAL.format(action), refused.text
        assert project.get("multi").json() == before
        request_id = project.request_change("multi", "production", instruction)
        applied = project.apply("multi", "production", request_id, project.world.writers[0])
        assert applied.status_code == 200, applied.text
        assert applied.json()["status"] == "completed"
        assert project.get("multi").json()["_version"] == before["_version"] + 1, instruction
    after = project.get("multi").json()
    assert [v["value"] for v in after["variations"]] == ["x", "zz", "added"]
    assert after["archived"] is False and after["clientSideAvailability"]["usingEnvironmentId"] is True


def test_tags_that_end_a_requirement_are_applied_through_a_request(project: Project) -> None:
    project.flag("tagged", tags=["gated"])
    remove = {"kind": "removeTags", "values": ["gated"]}
    assert project.direct("tagged", remove, project.world.writers[0]).status_code == 405
    request_id = project.request_change("tagged", "test", remove)
    assert project.apply("tagged", "test", request_id, project.world.writers[0]).status_code == 200
    assert project.get("tagged").json()["tags"] == []


def test_a_request_that_deletes_its_flag_stays_readable_as_completed(project: Project) -> None:
    project.flag("doomed")
    writer = project.world.writers[0]
    assert project.direct("doomed", {"kind": "deleteFlag"}, writer).status_code == 405
    other = project.call(
        "POST",
        project.requests_url("doomed", "production"),
        writer,
        json={"description": "turn on", "instructions": [{"kind": "turnFlagOn"}]},
        expect=201,
    ).json()["_id"]
    request_id = project.request_change("doomed", "production", {"kind": "deleteFlag"})
    applied = project.apply("doomed", "production", request_id, writer)
    assert applied.status_code == 200, applied.text
    assert applied.json()["status"] == "completed"
    assert project.get("doomed").status_code == 404
    read = project.call("GET", f"/api/v2/approval-requests/{request_id}", writer, expect=200).json()
    assert read["status"] == "completed" and read["instructions"] == [{"kind": "deleteFlag"}]
    assert project.call("GET", f"/api/v2/approval-requests/{other}", writer).status_code == 404
    entries = project.call(
        "GET", "/api/v2/auditlog", ADMIN, params={"spec": f"proj/{project.key}:env/*:flag/doomed"}, expect=200
    ).json()["items"]
    titles = " | ".join(entry["title"] for entry in entries)
    assert "deleted" in titles and "applied" in titles, titles
    # Recreating the key starts afresh; the completed request stays where it was.
    project.flag("doomed")
    assert project.call("GET", f"/api/v2/approval-requests/{request_id}", writer, expect=200).json()["status"] == (
        "completed"
    )


def test_a_request_with_deleteFlag_must_be_alone_and_the_flag_deletable(project: Project) -> None:
    project.flag("lonely")
    body = {"description": "d", "instructions": [{"kind": "deleteFlag"}, {"kind": "turnFlagOn"}]}
    response = project.call("POST", project.requests_url("lonely", "production"), project.world.writers[0], json=body)
    assert response.status_code == 400, response.text


def test_an_approval_covers_its_own_environment_only(project: Project) -> None:
    """Variations are served in every environment: a request approved under test's settings cannot
    change what production serves, unless an owner or admin applies it."""
    project.flag("shared", tags=["gated"], variations=[{"value": "x"}, {"value": "y"}])
    change = {"kind": "addVariation", "value": "third"}
    request_id = project.request_change("shared", "test", change)
    refused = project.apply("shared", "test", request_id, project.world.writers[0])
    assert refused.status_code == 405, refused.text
    assert refused.json()["message"] == REFUSAL.format("updateFlagVariations")
    assert len(project.get("shared").json()["variations"]) == 2
    applied = project.apply("shared", "test", request_id, project.world.admin)
    assert applied.status_code == 200 and applied.json()["status"] == "completed", applied.text
    assert len(project.get("shared").json()["variations"]) == 3
