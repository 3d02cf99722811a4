"""The README's "Move from LaunchDarkly": its ``ld_save.py`` runs as written with the official client
against a LaunchDarkly-compatible API (flagward's own, standing in for LaunchDarkly), and what it saves
imports with ``flagward import --rest``: the project comes back with its names, tags, ids and salts."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import httpx
from launchdarkly_api.api.feature_flags_api import FeatureFlagsApi

from tests.api.test_import import PAYLOAD
from tests.support import ldapi
from tests.support.accounts import unique
from tests.support.server import ServerProcess

README = Path(__file__).resolve().parents[2] / "README.md"


def _ld_save_script() -> str:
    text = README.read_text()
    start = text.index("\n## Move from LaunchDarkly\n")
    end = text.find("\n## ", start + 1)
    blocks = re.findall(r"^```python\n(.*?)^```$", text[start : end if end != -1 else None], flags=re.S | re.M)
    (script,) = [b for b in blocks if b.startswith("# ld_save.py")]
    return script


def _flagward(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "flagward", *args], capture_output=True, text=True, timeout=120, check=False
    )


def test_ld_save_output_imports_back(server: ServerProcess, tmp_path: Path) -> None:
    project = unique("move")
    headers = {"Authorization": server.admin_token}
    response = httpx.post(
        f"{server.url}/api/v2/projects/{project}/import",
        params={"environmentKey": "production"},
        json=PAYLOAD,
        headers=headers,
    )
    assert response.status_code == 200, response.text
    patch = [{"op": "replace", "path": "/tags", "value": ["payments"]}]
    assert httpx.patch(f"{server.url}/api/v2/flags/{project}/checkout", json=patch, headers=headers).status_code == 200
    with ldapi.client(server.url, server.admin_token) as client:
        before = FeatureFlagsApi(client).get_feature_flag(project, "checkout").to_dict()
    script = tmp_path / "ld_save.py"
    script.write_text(_ld_save_script())
    env = {**os.environ, "LD_HOST": server.url, "LD_API_KEY": server.admin_token}
    saved = subprocess.run(
        [sys.executable, str(script), str(tmp_path / "ld-export"), project],
        env=env,
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert saved.returncode == 0, saved.stderr
    assert (tmp_path / "ld-export" / "flags" / project / "checkout.json").is_file()
    assert httpx.delete(f"{server.url}/api/v2/projects/{project}", headers=headers).status_code == 204
    store = ["--database-url", server.database_url, "--as", "owner@localhost"]
    done = _flagward("import", "--rest", str(tmp_path / "ld-export"), *store)
    assert done.returncode == 0, done.stdout + done.stderr
    with ldapi.client(server.url, server.admin_token) as client:
        after = FeatureFlagsApi(client).get_feature_flag(project, "checkout").to_dict()
    for moving in ("_links", "_version", "creationDate", "_maintainer", "maintainerId"):
        before.pop(moving, None), after.pop(moving, None)
    for config in (*before["environments"].values(), *after["environments"].values()):
        config.pop("lastModified", None), config.pop("_site", None)
    assert after == before
