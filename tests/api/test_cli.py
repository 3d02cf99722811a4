"""The command line: the first start's admin token, FLAGWARD_ADMIN_TOKEN, ``tokens create``,
``db upgrade``, ``audit head`` and ``audit verify --anchor``, each on a fresh store of both kinds."""

from __future__ import annotations

import importlib.metadata
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
from typing import Any

import httpx
import launchdarkly_api
import pytest
from launchdarkly_api.api.access_tokens_api import AccessTokensApi
from launchdarkly_api.api.account_members_api import AccountMembersApi
from launchdarkly_api.api.other_api import OtherApi
from launchdarkly_api.api.projects_api import ProjectsApi
from sqlalchemy import text

from flagward.config import Settings
from flagward.domain.accounts import TOKEN_ROLES, Role
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
    if store_url.startswith("sqlite:///"):
        Path(store_url.removeprefix("sqlite:///")).touch()  # an empty SQLite database: no schema yet
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


def _in(cwd: Path, *args: str, stdin: str | None = None, **extra: str) -> subprocess.CompletedProcess[str]:
    """``flagward ARGS`` run in ``cwd`` with no FLAGWARD_* setting but ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLAGWARD_")}
    env.update(COLUMNS="400", **extra)
    return subprocess.run(
        [sys.executable, "-m", "flagward", *args],
        cwd=cwd,
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize(
    ("args", "stdin"),
    [
        (("tokens", "create", "--member", "ann@example.com", "--role", "writer"), None),
        (("members", "set-password", "--email", "owner@localhost"), "a-password-1\na-password-1\n"),
        (("audit", "verify"), None),
    ],
    ids=["tokens-create", "members-set-password", "audit-verify"],
)
def test_commands_that_open_the_store_refuse_a_sqlite_file_that_does_not_exist(
    tmp_path: Path, args: tuple[str, ...], stdin: str | None
) -> None:
    """Run from the wrong directory, they say where they looked and how to point at the right store,
    instead of creating an empty one there (and printing a token that works nowhere)."""
    done = _in(tmp_path, *args, stdin=stdin)
    assert done.returncode == 1, done.stdout + done.stderr
    assert not TOKEN.search(done.stdout) and "Password" not in done.stdout
    message = " ".join(done.stderr.split())
    assert str(tmp_path / "flagward.db") in message
    assert "--database-url" in message and "FLAGWARD_DATABASE_URL" in message
    assert list(tmp_path.iterdir()) == []
    elsewhere = tmp_path / "nowhere" / "store.db"
    explicit = _in(tmp_path, *args, "--database-url", f"sqlite:///{elsewhere}", stdin=stdin)
    assert explicit.returncode == 1 and str(elsewhere) in " ".join(explicit.stderr.split())
    assert list(tmp_path.iterdir()) == []


def test_a_second_server_on_one_sqlite_file_is_refused(tmp_path: Path) -> None:
    """Its SDK streams and /sdk/latest-all would never see changes made through the first process."""
    database = tmp_path / "flagward.db"
    url = f"sqlite:///{database}"
    token = "api-first-server-admin-0123456789abcdefgh"
    with serve(url, tmp_path, FLAGWARD_ADMIN_TOKEN=token) as (first, _):
        elsewhere = tmp_path / "elsewhere"
        elsewhere.mkdir()
        for cwd, store in ((tmp_path, "./flagward.db"), (elsewhere, str(database))):
            second = subprocess.run(
                [sys.executable, "-m", "flagward", "serve", "--port", str(free_port())],
                cwd=cwd,
                env=_env(f"sqlite:///{store}", COLUMNS="400"),
                capture_output=True,
                text=True,
                timeout=30,
                check=False,
            )
            assert second.returncode == 1, second.stderr
            assert "PostgreSQL" in second.stderr and str(database) in second.stderr
        assert httpx.get(f"{first}/healthz").status_code == 200
        # Commands that are not servers still work while it runs.
        created = flagward(url, "tokens", "create", "--member", "owner@localhost", "--role", "admin")
        assert created.returncode == 0, created.stderr
        assert _identity(first, created.stdout.strip()).status_code == 200
        assert flagward(url, "audit", "verify").returncode == 0
    with serve(url, tmp_path) as (again, _):  # once the first has stopped, another may serve the file
        assert _identity(again, token).status_code == 200


def _commands(command: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Any]]:
    yield path, command
    for name, sub in getattr(command, "commands", {}).items():
        yield from _commands(sub, (*path, name))


def test_help_shows_every_option_default_and_environment_variable(tmp_path: Path) -> None:
    from flagward.cli import command

    checked = 0
    for path, cmd in _commands(command()):
        shown = _in(tmp_path, *path, "--help")
        assert shown.returncode == 0, shown.stderr
        for option in cmd.params:
            if option.param_type_name != "option" or option.is_eager:
                continue
            line = next(line for line in shown.stdout.splitlines() if f" {option.opts[0]} " in line)
            field = Settings.model_fields.get(option.name)
            default = field.default if field is not None else option.default
            if field is not None:
                assert f"[env var: FLAGWARD_{option.name.upper()}]" in line, line
            if option.is_flag and option.secondary_opts:  # --x/--no-x shows the name in force
                shown_default = (option.opts if default else option.secondary_opts)[0].lstrip("-")
                assert f"[default: {shown_default}]" in line, line
            # An empty default is said in the option's help; an off flag's (--json) is its absence, which
            # Click does not print.
            elif default not in (None, "") and not (option.is_flag and default is False):
                assert f"[default: {getattr(default, 'value', default)}]" in line, line
            checked += 1
    assert checked >= 8
    serve_help = _in(tmp_path, "serve", "--help").stdout
    assert "[env var: FLAGWARD_PORT] [default: 8630]" in serve_help
    assert "[default: sqlite:///./flagward.db]" in serve_help
    for name in Settings.model_fields:  # settings without an option are listed with their defaults
        assert f"FLAGWARD_{name.upper()}" in serve_help, name
    assert "FLAGWARD_OWNER_EMAIL (default: owner@localhost)" in serve_help


def test_the_port_comes_from_its_environment_variable_and_a_bad_one_names_it(tmp_path: Path) -> None:
    bad = _in(tmp_path, "serve", FLAGWARD_PORT="eighty")
    assert bad.returncode == 2 and "FLAGWARD_PORT" in bad.stderr
    assert list(tmp_path.iterdir()) == []


def test_version(tmp_path: Path) -> None:
    shown = _in(tmp_path, "--version")
    assert (shown.returncode, shown.stdout) == (0, f"flagward {importlib.metadata.version('flagward')}\n")


def test_tokens_create_help_lists_the_roles_a_token_may_have(tmp_path: Path) -> None:
    roles = [role.value for role in TOKEN_ROLES]
    assert f"[{'|'.join(roles)}]" in _in(tmp_path, "tokens", "create", "--help").stdout.replace("<", "[").replace(
        ">", "]"
    )
    for role in (r for r in Role if r not in TOKEN_ROLES):
        refused = _in(tmp_path, "tokens", "create", "--member", "a@example.com", "--role", role.value)
        assert refused.returncode == 2 and all(r in refused.stderr for r in roles), refused.stderr
