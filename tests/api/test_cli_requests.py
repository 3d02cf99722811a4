"""``flagward requests …`` and ``flagward flags diff`` run as subprocesses against a real server: a
requester proposes copying staging to production, a reviewer finds it with ``--to-review`` and approves
it, the requester applies it, and ``flags diff`` shows the environments before and after; ``wait`` gates a
CI-like shell script (0 once applied, 10 declined, 12 timed out); errors are one line with their code."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support import accounts, ldapi
from tests.support.accounts import unique
from tests.support.server import ServerProcess

pytestmark = pytest.mark.slow
FLAG = "checkout"
BIN = Path(sys.executable).parent


@dataclass(frozen=True)
class Team:
    server: ServerProcess
    requester: str  # personal tokens
    reviewer: str
    reviewer_id: str


@pytest.fixture(scope="module")
def team(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Team]:
    workdir = tmp_path_factory.mktemp("cli")
    with ServerProcess(database_url=f"sqlite:///{workdir / 'cli.db'}", workdir=workdir) as server:
        with ldapi.client(server.url, server.admin_token) as admin:
            requester = accounts.account(admin, server.url, "writer")
            reviewer = accounts.account(admin, server.url, "writer")
        yield Team(
            server,
            accounts.personal_token(server.url, requester),
            accounts.personal_token(server.url, reviewer),
            reviewer.id,
        )


@pytest.fixture
def project(team: Team) -> str:
    """Production requires one approval; staging has the flag on with a target production lacks."""
    key = unique("cli")
    envs = [
        {"key": "production", "name": "Production", "color": "FF0000"},
        {"key": "staging", "name": "Staging", "color": "00FF00"},
    ]
    semantic = {"Content-Type": "application/json; domain-model=launchdarkly.semanticpatch"}
    with httpx.Client(base_url=team.server.url, headers={"Authorization": team.server.admin_token}) as admin:
        assert admin.post("/api/v2/projects", json={"key": key, "name": key, "environments": envs}).is_success
        settings = [{"op": "replace", "path": "/approvalSettings", "value": {"required": True, "minNumApprovals": 1}}]
        assert admin.patch(f"/api/v2/projects/{key}/environments/production", json=settings).is_success
        flag = admin.post(f"/api/v2/flags/{key}", json={"key": FLAG, "name": "Checkout"}).json()
        true_id = flag["variations"][0]["_id"]
        staging = {
            "environmentKey": "staging",
            "instructions": [
                {"kind": "turnFlagOn"},
                {"kind": "addTargets", "variationId": true_id, "values": ["alice"]},
            ],
        }
        assert admin.patch(f"/api/v2/flags/{key}/{FLAG}", json=staging, headers=semantic).is_success
    return key


def run(team: Team, token: str | None, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("FLAGWARD_")}
    environment["FLAGWARD_URL"] = team.server.url
    if token is not None:
        environment["FLAGWARD_TOKEN"] = token
    environment.update(env)
    return subprocess.run(
        [str(BIN / "flagward"), *args], env=environment, capture_output=True, text=True, timeout=120, check=False
    )


def ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, (result.returncode, result.stdout, result.stderr)
    return result.stdout


def as_json(result: subprocess.CompletedProcess[str]) -> Any:
    return json.loads(ok(result))


def copy(team: Team, project: str, *extra: str) -> str:
    args = ["--project", project, "--flag", FLAG, "--from", "staging", "--to", "production"]
    return ok(run(team, team.requester, "requests", "copy", *args, *extra)).strip()


def test_propose_review_apply_and_diff(team: Team, project: str) -> None:
    diff = ["flags", "diff", "--project", project, "--flag", FLAG, "staging", "production"]
    before = ok(run(team, team.requester, *diff))
    assert "2 part(s) differ" in before and "Targeting is on" in before and "alice" in before

    request_id = copy(
        team, project, "--exclude", "updateOn", "--description", "Ship alice", "--notify", team.reviewer_id
    )
    shown = ok(run(team, team.reviewer, "requests", "show", request_id))
    assert f"Request {request_id}: pending (review: pending)" in shown
    assert f"{project}/{FLAG} in production" in shown and "Ship alice" in shown
    assert "alice" in shown.split("Instructions:")[1] and '"kind"' not in shown  # in plain language

    mine = as_json(run(team, team.requester, "requests", "list", "--mine", "--json"))
    assert [r["_id"] for r in mine["items"]] == [request_id] or request_id in [r["_id"] for r in mine["items"]]
    to_review = ok(run(team, team.reviewer, "requests", "list", "--to-review", "--project", project))
    assert request_id in to_review
    assert request_id not in ok(run(team, team.requester, "requests", "list", "--to-review", "--project", project))

    approved = ok(run(team, team.reviewer, "requests", "approve", request_id, "--comment", "looks right"))
    assert "pending (review: approved)" in approved
    assert ok(run(team, team.reviewer, "requests", "list", "--to-review", "--project", project)).strip() == (
        "No approval requests."
    )
    applied = as_json(run(team, team.requester, "requests", "apply", request_id, "--json"))
    assert applied["status"] == "completed"

    parts = as_json(run(team, team.requester, *diff, "--json"))["parts"]
    assert {p["part"] for p in parts if p["differs"]} == {"on"}  # targets copied, updateOn excluded


def test_errors_are_one_line_with_their_exit_code(team: Team, project: str) -> None:
    unknown = run(team, team.requester, "requests", "show", "0" * 24)
    assert unknown.returncode == 5
    assert unknown.stderr.startswith("error: 404: ") and unknown.stderr.count("\n") == 1

    request_id = copy(team, project)
    refused = run(team, team.requester, "requests", "apply", request_id)
    assert refused.returncode == 1 and refused.stderr.startswith("error: 400: "), refused.stderr

    assert run(team, None, "requests", "list").returncode == 3
    assert run(team, "api-wrong", "requests", "list").returncode == 4
    unreachable = run(team, team.requester, "requests", "list", FLAGWARD_URL="http://127.0.0.1:9")
    assert unreachable.returncode == 3 and "Cannot reach" in unreachable.stderr
    missing_env = run(team, team.requester, "flags", "diff", "--project", project, "--flag", FLAG, "staging", "qa")
    assert missing_env.returncode == 5


CI_SCRIPT = """
set -eu
id=$(flagward requests copy --project "$PROJECT" --flag checkout --from staging --to production --exclude updateOn)
( sleep 1; FLAGWARD_TOKEN="$REVIEWER" flagward requests "$VERDICT" "$id" --comment "from the pipeline" ) &
if flagward requests wait "$id" --timeout 60 --interval 0.2 $APPLY; then
  echo "deploying"
else
  code=$?
  wait
  echo "blocked: $code"
  exit "$code"
fi
wait
"""


def ci(team: Team, project: str, verdict: str, apply: str = "--apply") -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("FLAGWARD_")}
    environment.update(
        FLAGWARD_URL=team.server.url,
        FLAGWARD_TOKEN=team.requester,
        PATH=f"{BIN}{os.pathsep}{environment.get('PATH', '')}",
        PROJECT=project,
        REVIEWER=team.reviewer,
        VERDICT=verdict,
        APPLY=apply,
    )
    return subprocess.run(
        ["bash", "-c", CI_SCRIPT], env=environment, capture_output=True, text=True, timeout=120, check=False
    )


def test_a_ci_script_waits_for_approval_and_applies(team: Team, project: str) -> None:
    result = ci(team, project, "approve")
    assert result.returncode == 0, (result.stdout, result.stderr)
    assert "completed" in result.stdout and result.stdout.strip().endswith("deploying")
    parts = as_json(run(team, team.requester, "flags", "diff", "--project", project, "--flag", FLAG,
                        "staging", "production", "--json"))["parts"]  # fmt: skip
    assert not next(p for p in parts if p["part"] == "targets")["differs"]


def test_a_declined_request_fails_the_ci_script(team: Team, project: str) -> None:
    result = ci(team, project, "decline")
    assert result.returncode == 10, (result.stdout, result.stderr)
    assert "blocked: 10" in result.stdout


def test_wait_without_apply_returns_once_someone_applies(team: Team, project: str) -> None:
    request_id = copy(team, project)
    waiting = subprocess.Popen(
        [str(BIN / "flagward"), "requests", "wait", request_id, "--timeout", "60", "--interval", "0.2", "--json"],
        env={**os.environ, "FLAGWARD_URL": team.server.url, "FLAGWARD_TOKEN": team.requester},
        stdout=subprocess.PIPE,
        text=True,
    )
    ok(run(team, team.reviewer, "requests", "approve", request_id))
    ok(run(team, team.reviewer, "requests", "apply", request_id))
    out, _ = waiting.communicate(timeout=60)
    assert waiting.returncode == 0 and json.loads(out)["status"] == "completed"


def test_wait_times_out(team: Team, project: str) -> None:
    request_id = copy(team, project)
    result = run(team, team.requester, "requests", "wait", request_id, "--timeout", "0.3", "--interval", "0.1")
    assert result.returncode == 12 and "still pending" in result.stderr
