"""LaunchDarkly's official Node server-side SDK (``@launchdarkly/node-server-sdk``, pinned in
``tests/node/package-lock.json``) against a real flagward server: it initializes by streaming and by
polling, evaluates with LaunchDarkly's reasons, and follows live changes.

Needs ``node`` and ``npm ci`` in ``tests/node`` (``scripts/test`` runs it). Outside CI a missing install
skips; where PostgreSQL tests are required (``FLAGWARD_REQUIRE_POSTGRES=1``, as ``scripts/test`` sets) it fails.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.support.accounts import unique
from tests.support.sdk import Env, Rest, wait_until
from tests.support.server import ServerProcess

NODE_DIR = Path(__file__).resolve().parents[2] / "node"


def _node() -> str:
    node = shutil.which("node")
    installed = (NODE_DIR / "node_modules" / "@launchdarkly" / "node-server-sdk").is_dir()
    if node and installed:
        return node
    message = "node is not installed" if not node else f"run `npm ci` in {NODE_DIR}"
    if os.environ.get("FLAGWARD_REQUIRE_POSTGRES") == "1":
        pytest.fail(message)
    pytest.skip(message)


class NodeSdk:
    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.process = process

    def _read(self) -> Any:
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        assert line, f"the Node SDK driver exited: {self.process.stderr.read() if self.process.stderr else ''}"
        return json.loads(line)

    def _ask(self, command: dict[str, Any]) -> Any:
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps(command) + "\n")
        self.process.stdin.flush()
        return self._read()

    def evaluate(self, flag_key: str, context: dict[str, Any], default: Any) -> dict[str, Any]:
        result: dict[str, Any] = self._ask({"evaluate": {"flagKey": flag_key, "context": context, "default": default}})
        return result


@contextmanager
def node_sdk(server: ServerProcess, sdk_key: str, *, stream: bool = True) -> Iterator[NodeSdk]:
    env = {
        **os.environ,
        "FLAGWARD_URL": server.url,
        "FLAGWARD_SDK_KEY": sdk_key,
        "FLAGWARD_STREAM": "true" if stream else "false",
    }
    process = subprocess.Popen(
        [_node(), "sdk-driver.mjs"],
        cwd=NODE_DIR,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        sdk = NodeSdk(process)
        assert sdk._read() == {"initialized": True}
        yield sdk
    finally:
        if process.stdin:
            process.stdin.close()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        for pipe in (process.stdout, process.stderr):
            if pipe:
                pipe.close()


def _targeted_flag(api: Rest, env: Env) -> str:
    key = unique("node")
    flag = api.create_flag(env.project, key, variations=[{"value": "red"}, {"value": "green"}])
    green = flag["variations"][1]["_id"]
    api.semantic_patch(
        env.project,
        key,
        env.key,
        {"kind": "turnFlagOn"},
        {
            "kind": "addRule",
            "clauses": [{"contextKind": "org", "attribute": "tier", "op": "in", "values": ["gold"], "negate": False}],
            "variationId": green,
        },
    )
    return key


@pytest.mark.parametrize("stream", [True, False], ids=["streaming", "polling"])
def test_the_node_sdk_initializes_and_evaluates(server: ServerProcess, api: Rest, stream: bool) -> None:
    env = api.create_project()["production"]
    key = _targeted_flag(api, env)
    rule_id = api.http.get(f"/api/v2/flags/{env.project}/{key}").json()["environments"]["production"]["rules"][0]["_id"]
    with node_sdk(server, env.sdk_key, stream=stream) as sdk:
        gold = {"kind": "org", "key": "acme", "tier": "gold"}
        assert sdk.evaluate(key, gold, "fallback") == {
            "value": "green",
            "variationIndex": 1,
            "reason": {"kind": "RULE_MATCH", "ruleIndex": 0, "ruleId": rule_id},
        }
        assert sdk.evaluate(key, {"kind": "user", "key": "u"}, "fallback") == {
            "value": "red",
            "variationIndex": 0,
            "reason": {"kind": "FALLTHROUGH"},
        }
        missing = sdk.evaluate("no-such-flag", {"kind": "user", "key": "u"}, "fallback")
        assert missing["value"] == "fallback" and missing["reason"]["errorKind"] == "FLAG_NOT_FOUND"


def test_the_node_sdk_follows_live_changes(server: ServerProcess, api: Rest) -> None:
    env = api.create_project()["production"]
    key = _targeted_flag(api, env)
    user = {"kind": "user", "key": "u"}
    with node_sdk(server, env.sdk_key) as sdk:
        assert sdk.evaluate(key, user, None)["value"] == "red"
        api.semantic_patch(env.project, key, env.key, {"kind": "turnFlagOff"})
        wait_until(lambda: sdk.evaluate(key, user, None)["reason"] == {"kind": "OFF"})
