"""The README's tours run as written, in the order the README gives them, the way a newcomer runs them:
``.venv/bin/flagward serve`` started in a checkout after the set-up, then every tour in one fresh shell
in that directory, whose PATH does not hold the venv. They create a project, a flag and a reader token,
are refused a write with that token, repeat it with the official Python client, and promote staging to
production through approval requests, with curl and with the client.

The only line not run as written is the one that asks the reader to fill in the admin token the server
printed (and its address, here on a free port); the test fills both in, exactly there. Each Python tour
is saved under the file name its first line gives, and run by the README's own command.

The checkout is a directory whose ``.venv`` is the virtual environment these tests run in (the
repository's own ``.venv`` may not be that one: CI installs into another), so the server's
``./flagward.db`` is fresh and the repository stays untouched.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.support.server import free_port

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
TOURS = (
    "A short tour with curl",
    "The same with the official Python client",
    "Promote staging to production with approval",
)
PLACEHOLDER = "export FW=http://127.0.0.1:8630 TOKEN=api-...   # the admin token printed on first start"
TOKEN = re.compile(r"api-[A-Za-z0-9._-]{20,}")

pytestmark = pytest.mark.slow


def _section(title: str) -> str:
    text = README.read_text()
    start = text.index(f"\n## {title}\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else None]


def _blocks(text: str) -> list[tuple[str, str]]:
    """The fenced code blocks of ``text`` in order, as (language, code)."""
    return re.findall(r"^```(\w+)\n(.*?)^```$", text, flags=re.S | re.M)


@dataclass
class Checkout:
    path: Path
    url: str
    admin_token: str


def _fresh_shell_path() -> str:
    """The PATH of a fresh shell: this one's, without the venv or any other directory holding ``flagward``."""
    venv_bin = (Path(sys.prefix) / "bin").resolve()
    kept = [
        entry
        for entry in os.environ.get("PATH", "").split(os.pathsep)
        if entry and Path(entry).resolve() != venv_bin and not (Path(entry) / "flagward").exists()
    ]
    path = os.pathsep.join(kept)
    assert shutil.which("flagward", path=path) is None
    assert shutil.which("curl", path=path) and shutil.which("python3", path=path)
    return path


def _fresh_env(**values: str) -> dict[str, str]:
    env = {"PATH": _fresh_shell_path(), "HOME": os.environ.get("HOME", "/root"), "LANG": "C.UTF-8"}
    env.update(values)
    return env


@pytest.fixture
def checkout(tmp_path: Path) -> Iterator[Checkout]:
    """A checkout after the README's set-up, its server started as the README says (``.venv/bin/flagward
    serve``, SQLite at ``./flagward.db``; a free port instead of 8630), the admin token read from stderr."""
    (tmp_path / ".venv").symlink_to(sys.prefix, target_is_directory=True)
    port = free_port()
    stderr = tmp_path / "serve.stderr"
    with stderr.open("wb") as err:
        process = subprocess.Popen(
            [".venv/bin/flagward", "serve"],
            cwd=tmp_path,
            env=_fresh_env(FLAGWARD_PORT=str(port), FLAGWARD_LOG_LEVEL="warning"),
            stdout=subprocess.DEVNULL,
            stderr=err,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(process, url, stderr)
        tokens = TOKEN.findall(stderr.read_text())
        assert len(set(tokens)) == 1, stderr.read_text()
        yield Checkout(tmp_path, url, tokens[0])
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


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


def _tour_script(checkout: Checkout) -> str:
    """Every tour's shell commands, in README order, in one script; each Python tour saved beside them."""
    lines: list[str] = []
    for title in TOURS:
        for language, code in _blocks(_section(title)):
            if language == "python":
                name = re.fullmatch(r"# (\S+\.py)", code.splitlines()[0])
                assert name, f"a Python tour in '{title}' must start with '# <file>.py'"
                (checkout.path / name.group(1)).write_text(code)
                continue
            assert language == "sh", language
            filled = f"export FW={checkout.url} TOKEN={checkout.admin_token}"
            lines += [filled if line == PLACEHOLDER else line for line in code.splitlines()]
    assert lines[0] == f"export FW={checkout.url} TOKEN={checkout.admin_token}", "the tours start with the placeholder"
    return "\n".join(lines) + "\n"


def _run_in_fresh_shell(script: str, checkout: Checkout) -> str:
    done = subprocess.run(
        ["bash", "--noprofile", "--norc", "-euo", "pipefail", "-c", script],
        check=False,
        env=_fresh_env(),
        capture_output=True,
        text=True,
        timeout=240,
        cwd=checkout.path,
    )
    assert done.returncode == 0, done.stderr + done.stdout
    return done.stdout


def test_every_tour_runs_as_written_in_readme_order(checkout: Checkout) -> None:
    output = _run_in_fresh_shell(_tour_script(checkout), checkout)

    assert '"code":"forbidden"' in output.replace(" ", "")  # the reader token is refused a write
    assert "applyApprovalRequest" in output  # the curl promotion applied
    headers = {"Authorization": checkout.admin_token}
    flag = httpx.get(f"{checkout.url}/api/v2/flags/shop/new-checkout", headers=headers).json()
    assert flag["environments"]["test"]["on"] is True
    production, staging = flag["environments"]["production"], flag["environments"]["staging"]
    strip = [[{k: v for k, v in c.items() if k != "_id"} for c in r["clauses"]] for r in staging["rules"]]
    assert [[{k: v for k, v in c.items() if k != "_id"} for c in r["clauses"]] for r in production["rules"]] == strip
    assert production["on"] is False
    # the Python promotion copied Ann's staging target to production
    assert [t["values"] for t in production["targets"]] == [["ann"]] == [t["values"] for t in staging["targets"]]
    python_flag = httpx.get(f"{checkout.url}/api/v2/flags/shop-py/new-checkout", headers=headers)
    assert python_flag.status_code == 200


def test_the_client_the_readme_installs_is_the_one_the_tours_are_tested_with() -> None:
    """The set-up installs the ``client`` extra into the venv; it holds the launchdarkly-api the tests use."""
    setup = _section("Set up")
    assert ".venv/bin/pip install -e '.[client]'" in setup
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    client = project["optional-dependencies"]["client"]
    assert any(requirement.startswith("launchdarkly-api") for requirement in client)
    assert "flagward[client]" in project["optional-dependencies"]["test"]
