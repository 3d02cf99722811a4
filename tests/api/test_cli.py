"""The command line: the first start's admin token, FLAGWARD_ADMIN_TOKEN, ``tokens create``,
``db upgrade``, ``audit head`` and ``audit verify --anchor``, each on a fresh store of both kinds."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import launchdarkly_api
from launchdarkly_api.api.access_tokens_api import AccessTokensApi
from launchdarkly_api.api.account_members_api import AccountMembersApi
from launchdarkly_api.api.other_api import OtherApi
from launchdarkly_api.api.projects_api import ProjectsApi
from sqlalchemy import text

from flagward.storage.engine import make_engine
from tests.support import accounts, audit_log, ldapi
from tests.support.server import free_port

TOKEN = re.compile(r"api-[A-Za-z0-9._-]{20,}")


def _env(store_url: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLAGWARD_")}
    env.update(FLAGWARD_DATABASE_URL=store_url, FLAGWARD_LOG_LEVEL="warning", **extra)
    return env


def flagward(store_url: str, *args: str, **extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "flagward", *args],
        env=_env(store_url, **extra),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@dataclass
class Output:
    stdout: str = ""
    stderr: str = ""


@contextmanager
def serve(store_url: str, workdir: Path, **extra: str) -> Iterator[tuple[str, Output]]:
    """``flagward serve`` with stdout and stderr kept apart; yields its URL, and fills the output on exit."""
    port = free_port()
    out, err = workdir / f"stdout-{port}", workdir / f"stderr-{port}"
    with out.open("wb") as stdout, err.open("wb") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-m", "flagward", "serve", "--port", str(port)],
            cwd=workdir,
            env=_env(store_url, **extra),
            stdout=stdout,
            stderr=stderr,
        )
    output = Output()
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(process, url, err)
        yield url, output
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)
        output.stdout, output.stderr = out.read_text(), err.read_text()


def _wait_healthy(process: subprocess.Popen[bytes], url: str, log: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"flagward serve exited early:\n{log.read_text()}")
        try:
            if httpx.get(f"{url}/healthz", timeout=1.0).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"flagward serve did not become healthy:\n{log.read_text()}")


def _identity(url: str, token: str) -> httpx.Response:
    return httpx.get(f"{url}/api/v2/caller-identity", headers={"Authorization": token})


def test_the_first_start_prints_an_admin_token_once_on_stderr(store_url: str, tmp_path: Path) -> None:
    with serve(store_url, tmp_path) as (url, first):
        pass
    printed = TOKEN.findall(first.stderr)
    assert len(set(printed)) == 1, first.stderr
    token = printed[0]
    assert token not in first.stdout
    with serve(store_url, tmp_path) as (url, second):
        identity = _identity(url, token)
        assert identity.status_code == 200
        with ldapi.client(url, token) as api_client:
            owner = AccountMembersApi(api_client).get_member(identity.json()["memberId"])
            assert owner.role == "owner"
            assert AccessTokensApi(api_client).get_token(identity.json()["tokenId"]).role == "admin"
    assert not TOKEN.search(second.stderr + second.stdout)


def test_flagward_admin_token_works_and_is_never_printed(store_url: str, tmp_path: Path) -> None:
    chosen = "api-chosen-by-the-operator-0123456789abcdef"
    for _ in range(2):  # the first start and a restart
        with serve(store_url, tmp_path, FLAGWARD_ADMIN_TOKEN=chosen) as (url, output):
            identity = _identity(url, chosen)
            assert identity.status_code == 200
            assert identity.json()["tokenKind"] == "personal"
            projects = httpx.post(
                f"{url}/api/v2/projects",
                json={"key": f"p{time.time_ns()}", "name": "P"},
                headers={"Authorization": chosen},
            )
            assert projects.status_code == 201
        assert chosen not in output.stdout + output.stderr
        assert not TOKEN.search(output.stderr + output.stdout)


def test_tokens_create_prints_a_personal_token(store_url: str, tmp_path: Path) -> None:
    admin_token = "api-cli-admin-token-0123456789abcdefghij"
    with serve(store_url, tmp_path, FLAGWARD_ADMIN_TOKEN=admin_token) as (url, _):
        with ldapi.client(url, admin_token) as admin:
            member = accounts.invite(admin, "writer", password=None)
            reader = accounts.invite(admin, "reader", password=None)
        created = flagward(store_url, "tokens", "create", "--member", member.email, "--role", "writer", "--name", "ci")
        assert created.returncode == 0, created.stderr
        secret = created.stdout.strip()
        assert TOKEN.fullmatch(secret)
        identity = _identity(url, secret).json()
        assert (identity["memberId"], identity["tokenName"], identity["tokenKind"]) == (member.id, "ci", "personal")
        with ldapi.client(url, secret) as as_member:
            assert AccessTokensApi(as_member).get_token(identity["tokenId"]).role == "writer"
        default = flagward(store_url, "tokens", "create", "--member", member.email)
        with ldapi.client(url, default.stdout.strip()) as as_member:
            token_id = OtherApi(as_member).get_caller_identity().token_id
            assert AccessTokensApi(as_member).get_token(token_id).role == "reader"
    unknown = flagward(store_url, "tokens", "create", "--member", "nobody@example.com")
    assert unknown.returncode == 2 and "nobody@example.com" in unknown.stderr and not unknown.stdout
    too_strong = flagward(store_url, "tokens", "create", "--member", reader.email, "--role", "admin")
    assert too_strong.returncode == 2 and "admin" in too_strong.stderr and not too_strong.stdout
    bad_role = flagward(store_url, "tokens", "create", "--member", reader.email, "--role", "emperor")
    assert bad_role.returncode != 0 and not TOKEN.search(bad_role.stdout)


def test_db_upgrade_migrates_an_empty_store_idempotently(store_url: str, tmp_path: Path) -> None:
    first = flagward(store_url, "db", "upgrade")
    assert first.returncode == 0, first.stderr
    revision = re.fullmatch(r"schema at revision (\S+)\n", first.stdout)
    assert revision, first.stdout
    again = flagward(store_url, "db", "upgrade")
    assert (again.returncode, again.stdout) == (0, first.stdout)
    token = "api-after-upgrade-0123456789abcdefghijkl"
    with serve(store_url, tmp_path, FLAGWARD_ADMIN_TOKEN=token) as (url, _):
        assert _identity(url, token).status_code == 200
        with ldapi.client(url, token) as api_client:
            post = launchdarkly_api.ProjectPost(key="after-upgrade", name="After upgrade")
            assert ProjectsApi(api_client).post_project(post).key == "after-upgrade"


def test_audit_head_prints_an_anchor_that_verify_checks(store_url: str) -> None:
    """``audit head`` prints ``SEQ:HASH`` (exit 0), or nothing and exit 1 when the log's end does not
    verify; ``audit verify --anchor`` exits 0 while the log holds the anchor, 1 once it does not, 2
    for an anchor it cannot read; both exit 2 on a schema they were not built for."""
    outdated = flagward(store_url, "audit", "head")
    assert (outdated.returncode, outdated.stdout) == (2, "") and "flagward db upgrade" in outdated.stderr
    assert flagward(store_url, "db", "upgrade").returncode == 0
    empty = flagward(store_url, "audit", "head")
    assert (empty.returncode, empty.stdout) == (0, "0:" + "0" * 64 + "\n"), empty.stderr

    engine = make_engine(store_url)
    try:
        count = len(audit_log.populate(engine))
        with engine.connect() as conn:
            last_hash = conn.execute(text("SELECT hash FROM audit_log WHERE seq = :s"), {"s": count}).scalar_one()
        head = flagward(store_url, "audit", "head")
        assert (head.returncode, head.stdout, head.stderr) == (0, f"{count}:{last_hash}\n", "")
        anchor = head.stdout.strip()

        held = flagward(store_url, "audit", "verify", "--anchor", anchor, "--anchor", empty.stdout.strip())
        assert held.returncode == 0, held.stdout + held.stderr
        assert held.stdout == f"audit log intact: {count} entries; it still holds {anchor}, {empty.stdout.strip()}\n"
        unreadable = flagward(store_url, "audit", "verify", "--anchor", "latest")
        assert (unreadable.returncode, unreadable.stdout) == (2, "") and "not an anchor" in unreadable.stderr

        audit_log.execute(engine, "DELETE FROM audit_log WHERE seq = :s", s=count)
        cut = flagward(store_url, "audit", "head")
        assert (cut.returncode, cut.stdout) == (1, "") and f"seq {count}\tremoved" in cut.stderr
        broken = flagward(store_url, "audit", "verify", "--anchor", anchor)
        assert broken.returncode == 1 and f"seq {count}\tremoved" in broken.stdout
    finally:
        engine.dispose()
