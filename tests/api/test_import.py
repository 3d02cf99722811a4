"""Import over HTTP (``POST /api/v2/projects/{p}/import``, flagward's own) and with ``flagward import`` /
``flagward export`` against a running server's store; the official client reads what was imported."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import launchdarkly_api
import pytest
from launchdarkly_api.api.feature_flags_api import FeatureFlagsApi

from tests.support import ldapi
from tests.support.accounts import account, personal_token, unique
from tests.support.server import ServerProcess

PAYLOAD: dict[str, Any] = {
    "flags": {
        "checkout": {
            "key": "checkout",
            "version": 9,
            "on": True,
            "salt": "salt-from-launchdarkly",
            "variations": ["old", "new"],
            "offVariation": 0,
            "fallthrough": {
                "rollout": {"variations": [{"variation": 0, "weight": 25000}, {"variation": 1, "weight": 75000}]}
            },
            "rules": [
                {"id": "rule-1", "clauses": [{"attribute": "country", "op": "in", "values": ["fr"]}], "variation": 1}
            ],
        },
        "broken": {"key": "broken", "variations": ["x", "y"], "on": True, "fallthrough": {"variation": 2}},
    },
    "segments": {},
}


@pytest.fixture(scope="module")
def admin(server: ServerProcess) -> Iterator[launchdarkly_api.ApiClient]:
    with ldapi.client(server.url, server.admin_token) as client:
        yield client


def _post(server: ServerProcess, token: str, project: str, body: Any, **params: str) -> httpx.Response:
    return httpx.post(
        f"{server.url}/api/v2/projects/{project}/import",
        params={"environmentKey": "production", **params},
        json=body,
        headers={"Authorization": token},
    )


def test_an_admin_imports_a_payload_and_sdks_are_served_its_salt(
    server: ServerProcess, admin: launchdarkly_api.ApiClient
) -> None:
    project = unique("imp")
    response = _post(server, server.admin_token, project, PAYLOAD)
    assert response.status_code == 200, response.text
    body = response.json()
    assert [i["item"] for i in body["created"]] == [f"projects/{project}", "flags/checkout"]
    assert body["refused"] == [
        {
            "item": "flags/broken",
            "path": "flags.broken.fallthrough.variation",
            "reason": "must be the index of one of the flag's 2 variations (0 to 1)",
        }
    ]
    flag = FeatureFlagsApi(admin).get_feature_flag(project, "checkout")
    production = flag.environments["production"]
    assert (production.salt, production.version, production.rules[0].id) == ("salt-from-launchdarkly", 9, "rule-1")
    env = httpx.get(
        f"{server.url}/api/v2/projects/{project}/environments/production", headers={"Authorization": server.admin_token}
    ).json()
    served = httpx.get(f"{server.url}/sdk/latest-all", headers={"Authorization": env["apiKey"]}).json()
    assert served["flags"]["checkout"]["salt"] == "salt-from-launchdarkly"
    assert served["flags"]["checkout"]["fallthrough"] == PAYLOAD["flags"]["checkout"]["fallthrough"]


def test_a_dry_run_stores_nothing(server: ServerProcess) -> None:
    project = unique("dry")
    response = _post(server, server.admin_token, project, PAYLOAD, dryRun="true")
    assert response.status_code == 200 and response.json()["dryRun"] is True
    assert [i["item"] for i in response.json()["created"]] == [f"projects/{project}", "flags/checkout"]
    got = httpx.get(f"{server.url}/api/v2/projects/{project}", headers={"Authorization": server.admin_token})
    assert got.status_code == 404


def test_a_writer_may_not_import(server: ServerProcess, admin: launchdarkly_api.ApiClient) -> None:
    writer = personal_token(server.url, account(admin, server.url, "writer"))
    response = _post(server, writer, unique("no"), PAYLOAD)
    assert (response.status_code, response.json()["code"]) == (403, "forbidden")


def test_a_body_that_is_not_an_sdk_payload_is_a_400(server: ServerProcess) -> None:
    response = _post(server, server.admin_token, unique("bad"), {"items": []})
    assert (response.status_code, response.json()["code"]) == (400, "invalid_request")


def _cli(server: ServerProcess, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "flagward", *args, "--database-url", server.database_url, "--as", "owner@localhost"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_command_line_imports_exports_and_imports_again(
    server: ServerProcess, admin: launchdarkly_api.ApiClient, tmp_path: Path
) -> None:
    project, copy = unique("cli"), unique("copy")
    source = tmp_path / "production.json"
    source.write_text(json.dumps(PAYLOAD))
    done = _cli(server, "import", "--project", project, "--environment", "production", str(source))
    assert done.returncode == 1, done.stderr  # one item refused
    assert "refused          flags/broken" in done.stdout
    assert "import: 2 created, 0 updated, 0 unchanged, 1 refused" in done.stderr
    exported = tmp_path / "out.json"
    done = _cli(server, "export", "--project", project, "--environment", "production", str(exported))
    assert done.returncode == 0, done.stderr
    assert json.loads(exported.read_text())["flags"]["checkout"]["salt"] == "salt-from-launchdarkly"
    done = _cli(server, "import", "--project", copy, "--environment", "production", str(exported))
    assert done.returncode == 0, done.stderr
    flag = FeatureFlagsApi(admin).get_feature_flag(copy, "checkout")
    assert (flag.environments["production"].salt, flag.environments["production"].version) == (
        "salt-from-launchdarkly",
        9,
    )
    rest_dir = tmp_path / "rest"
    done = _cli(server, "export", "--project", copy, "--format", "rest", str(rest_dir))
    assert done.returncode == 0, done.stderr
    assert (rest_dir / "flags" / copy / "checkout.json").is_file()
    again = _cli(server, "import", "--rest", str(rest_dir), "--dry-run")
    assert again.returncode == 0, again.stderr
    assert f"unchanged        flags/{copy}/checkout" in again.stdout


def _rest_files(root: Path) -> dict[str, Any]:
    return {str(p.relative_to(root)): json.loads(p.read_text()) for p in sorted(root.rglob("*.json"))}


def test_rest_representations_are_imported_over_http_into_their_project_only(
    server: ServerProcess, admin: launchdarkly_api.ApiClient, tmp_path: Path
) -> None:
    project = unique("rest")
    assert _post(server, server.admin_token, project, PAYLOAD).status_code == 200
    FeatureFlagsApi(admin).patch_feature_flag(
        project,
        "checkout",
        launchdarkly_api.PatchWithComment(
            patch=[launchdarkly_api.PatchOperation(op="replace", path="/description", value="Kept by the move")]
        ),
    )
    done = _cli(server, "export", "--project", project, "--format", "rest", str(tmp_path / "rest"))
    assert done.returncode == 0, done.stderr
    files = _rest_files(tmp_path / "rest")
    assert f"flags/{project}/checkout.json" in files
    FeatureFlagsApi(admin).delete_feature_flag(project, "checkout")
    files["flags/elsewhere/other.json"] = files[f"flags/{project}/checkout.json"]

    def post(body: Any, **params: str) -> httpx.Response:
        return httpx.post(
            f"{server.url}/api/v2/projects/{project}/import",
            params={"format": "rest", **params},
            json=body,
            headers={"Authorization": server.admin_token},
        )

    response = post(files)
    assert response.status_code == 200, response.text
    body = response.json()
    assert [i["item"] for i in body["created"]] == [f"flags/{project}/checkout"]
    assert body["refused"] == [
        {
            "item": "flags/elsewhere/other.json",
            "path": "flags/elsewhere/other.json",
            "reason": f"is of project 'elsewhere', not '{project}'",
        }
    ]
    flag = FeatureFlagsApi(admin).get_feature_flag(project, "checkout")
    assert flag.description == "Kept by the move"
    # The salt is kept; the version starts above the deleted flag's tombstone, so SDKs that saw the
    # deletion take the flag back.
    exported = files[f"flags/{project}/checkout.json"]["environments"]["production"]
    assert flag.environments["production"].salt == "salt-from-launchdarkly"
    assert flag.environments["production"].version > exported["version"]
    # The SDK format's environmentKey means nothing here, and the SDK format needs it.
    assert post(files, environmentKey="production").status_code == 400
    sdk = httpx.post(
        f"{server.url}/api/v2/projects/{project}/import", json=PAYLOAD, headers={"Authorization": server.admin_token}
    )
    assert (sdk.status_code, sdk.json()["code"]) == (400, "invalid_request")
    assert post([1, 2]).status_code == 400
