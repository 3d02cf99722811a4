"""The REST evaluate endpoint (``evaluateContextInstance``) takes flags compiled by the SDK hub when the hub
holds the environment, at the versions read from the store: compiled once per version, not per request,
and a change is in the very next answer. (Its response shape is checked in ``test_client_side``.)"""

from __future__ import annotations

import re
from typing import Any

import httpx

from tests.support.accounts import unique
from tests.support.sdk import Env, Rest, wait_until
from tests.support.server import ServerProcess

USER = {"kind": "user", "key": "visitor", "name": "Visitor"}
FLAG_COMPILES = 'flagward_sdk_compiles_total{kind="flags"}'


def _flag_compiles(server: ServerProcess) -> float:
    text = httpx.get(f"{server.url}/metrics").text
    match = re.search(rf"^{re.escape(FLAG_COMPILES)} (\S+)$", text, re.MULTILINE)
    return float(match.group(1)) if match else 0.0


def _evaluate(api: Rest, env: Env) -> dict[str, Any]:
    path = f"/api/v2/projects/{env.project}/environments/{env.key}/flags/evaluate"
    response = api.http.post(path, json=USER)
    assert response.status_code == 200, response.text
    return {item["key"]: (item["_value"], item["reason"]) for item in response.json()["items"]}


def _served_version(server: ServerProcess, env: Env, key: str) -> int:
    response = httpx.get(f"{server.url}/sdk/latest-flags/{key}", headers={"Authorization": env.sdk_key})
    version: int = response.json()["version"]
    return version


def test_flags_are_compiled_once_per_version_while_the_hub_holds_the_environment(
    server: ServerProcess, api: Rest
) -> None:
    envs = api.create_project()
    env, unheld = envs["production"], envs["test"]
    keys = sorted(unique(f"cached{i}") for i in range(3))
    for key in keys:
        api.create_flag(env.project, key)
    api.turn_on(env.project, keys[0], env.key)
    assert httpx.get(f"{server.url}/sdk/latest-all", headers={"Authorization": env.sdk_key}).status_code == 200

    before = _flag_compiles(server)
    first = _evaluate(api, env)
    assert _flag_compiles(server) - before == len(keys)  # each at its version, kept by the hub
    assert first == {
        keys[0]: (True, {"kind": "FALLTHROUGH"}),
        keys[1]: (False, {"kind": "OFF"}),
        keys[2]: (False, {"kind": "OFF"}),
    }
    held = _flag_compiles(server)
    assert [_evaluate(api, env) for _ in range(3)] == [first] * 3
    assert _flag_compiles(server) == held  # nothing compiled again

    version = api.turn_on(env.project, keys[1], env.key)["environments"][env.key]["version"]
    changed = _evaluate(api, env)  # at once, whether the hub has the change yet or not
    assert changed == {**first, keys[1]: (True, {"kind": "FALLTHROUGH"})}
    wait_until(lambda: _served_version(server, env, keys[1]) == version)
    assert _evaluate(api, env) == changed  # and the hub keeps that version compiled now

    version = api.turn_on(env.project, keys[2], env.key)["environments"][env.key]["version"]
    wait_until(lambda: _served_version(server, env, keys[2]) == version)  # the hub holds the new version
    settled = _flag_compiles(server)
    assert [_evaluate(api, env) for _ in range(3)] == [{**changed, keys[2]: (True, {"kind": "FALLTHROUGH"})}] * 3
    assert _flag_compiles(server) - settled == 1  # the new version, once

    # An environment the hub does not hold is compiled for each request, as before.
    alone = _flag_compiles(server)
    assert _evaluate(api, unheld) == _evaluate(api, unheld)
    assert _flag_compiles(server) - alone == 2 * len(keys)
