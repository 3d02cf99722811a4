"""The README's tours run as written against a real server: a newcomer who follows them creates a
project, a flag and a reader token, is refused a write with that token, and promotes staging to
production through an approval request."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.server import ServerProcess

README = Path(__file__).resolve().parents[2] / "README.md"


def _section(title: str) -> str:
    text = README.read_text()
    start = text.index(f"## {title}")
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else None]


def _shell_blocks(section: str) -> str:
    blocks = re.findall(r"```sh\n(.*?)```", section, flags=re.S)
    # The tour's first line exports placeholders; the test provides the real values.
    return "\n".join(line for block in blocks for line in block.splitlines() if not line.startswith("export FW="))


def _run(script: str, server: ServerProcess) -> str:
    env = dict(os.environ)
    env.update(
        FW=server.url,
        TOKEN=server.admin_token,
        FLAGWARD_DATABASE_URL=server.database_url,
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
    )
    done = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        check=False,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=server.workdir,
    )
    assert done.returncode == 0, done.stderr + done.stdout
    return done.stdout


@pytest.fixture(scope="module")
def readme_server(module_store_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    # A fresh store: the tour's keys (shop, new-checkout) are fixed.
    with ServerProcess(database_url=module_store_url, workdir=tmp_path_factory.mktemp("readme")) as process:
        yield process


def test_the_tour_refuses_a_write_with_a_reader_token(readme_server: ServerProcess) -> None:
    output = _run(_shell_blocks(_section("A short tour with curl")), readme_server)
    assert '"code":"forbidden"' in output.replace(" ", "")
    flag = httpx.get(
        f"{readme_server.url}/api/v2/flags/shop/new-checkout", headers={"Authorization": readme_server.admin_token}
    ).json()
    assert flag["environments"]["test"]["on"] is True


def test_promoting_staging_to_production_with_approval(readme_server: ServerProcess) -> None:
    output = _run(_shell_blocks(_section("Promote staging to production with approval")), readme_server)
    headers = {"Authorization": readme_server.admin_token}
    flag = httpx.get(f"{readme_server.url}/api/v2/flags/shop/new-checkout", headers=headers).json()
    production, staging = flag["environments"]["production"], flag["environments"]["staging"]
    strip = [[{k: v for k, v in c.items() if k != "_id"} for c in r["clauses"]] for r in staging["rules"]]
    assert [[{k: v for k, v in c.items() if k != "_id"} for c in r["clauses"]] for r in production["rules"]] == strip
    assert production["on"] is False
    assert "applyApprovalRequest" in output
