"""LaunchDarkly's published evaluation vectors, end to end: each file's ``sdkData`` is created in flagward
through the REST API, the official Python SDK streams it from flagward, and every evaluation it makes
must give the vector's value, variation index and reason.

A few vectors use data the REST API cannot express (see ``vector_data``); the evaluations that depend on
such an item are left out, and ``test_only_known_items_are_left_out`` pins exactly which ones, so a new
refusal fails instead of silently shrinking the test.
"""

from __future__ import annotations

import base64
import contextlib
import json
from collections.abc import Iterator
from typing import Any

import pytest
from ldclient import Context

from flagward.domain.evaluation import Context as FlagwardContext
from flagward.domain.evaluation import ContextError
from tests.api.sdk import vector_data
from tests.api.sdk.vectors_left_out import LEFT_OUT
from tests.support.accounts import unique
from tests.support.sdk import Env, Rest, rest, sdk_client
from tests.support.server import ServerProcess
from tests.unit.domain.evaluation.vectors import (
    VECTORS_ROOT,
    VectorEvaluation,
    VectorFile,
    load_vector_files,
    resolve_default,
    typed_result,
)

pytestmark = pytest.mark.slow

SERVER_DIR = VECTORS_ROOT / "server-side-eval"
CHECKED_EVALUATIONS = 548  # of 600
VECTORS = load_vector_files(SERVER_DIR) if SERVER_DIR.is_dir() else []


def _id(vector: VectorFile) -> str:
    params = ",".join(f"{k}={v}" for k, v in sorted(vector.params.items()))
    return f"{vector.source}:{vector.name}" + (f"[{params}]" if params else "")


def _dependencies(sdk_data: dict[str, dict[str, Any]], flag_key: str) -> set[str]:
    """Every item an evaluation of ``flag_key`` may read: prerequisites and segments, transitively."""
    seen: set[str] = set()
    todo = [f"flags/{flag_key}"]
    while todo:
        item = todo.pop()
        if item in seen:
            continue
        seen.add(item)
        kind, key = item.split("/", 1)
        data = sdk_data[kind].get(key)
        if data is None:
            continue
        todo += [f"flags/{p['key']}" for p in data.get("prerequisites", [])]
        for rule in data.get("rules", []):
            for clause in rule.get("clauses", []):
                if clause.get("op") == "segmentMatch":
                    todo += [f"segments/{v}" for v in clause.get("values", []) if isinstance(v, str)]
    return seen


@pytest.fixture(scope="module")
def left_out(server: ServerProcess) -> dict[str, dict[str, str]]:
    """What the vector tests on ``server`` could not create (file -> item -> reason), filled in as they
    run, and (under ``"checked"``) how many evaluations were compared."""
    return {"checked": {}}


@pytest.fixture(scope="module")
def api(server: ServerProcess) -> Iterator[Rest]:
    with rest(server.url, server.admin_token) as client:
        yield client


def _new_form(raw: Any) -> Any:
    """The vector's context as ``ldclient`` 9 takes it: old-style users (no ``kind``) are given in the new
    form, as the harness does; anything invalid stays as it is."""
    if isinstance(raw, dict) and "kind" not in raw:
        with contextlib.suppress(ContextError):
            return FlagwardContext.from_dict(raw).to_dict()
    return raw


def _check(detail: Any, vector: VectorFile, evaluation: VectorEvaluation) -> str | None:
    default, value_type = resolve_default(vector, evaluation)
    actual = typed_result(detail.value, detail.variation_index, detail.reason, value_type, default)
    expect = evaluation.expect
    expected = (json.dumps(expect.value, sort_keys=True), expect.variation_index, expect.reason)
    got = (json.dumps(actual[0], sort_keys=True), actual[1], actual[2])
    return None if got == expected else f"{evaluation.name}: expected {expected}, got {got}"


class _Evaluated:
    """flagward's own evaluations of a context (client-side, mobile, REST), fetched once per context."""

    def __init__(self, api: Rest, env: Env) -> None:
        self.api, self.env = api, env
        self._evalx: dict[str, dict[str, Any]] = {}

    def evalx(self, context: dict[str, Any]) -> dict[str, Any]:
        key = json.dumps(context, sort_keys=True)
        if key not in self._evalx:
            url = f"/sdk/evalx/{self.env.id}/context?withReasons=true"
            response = self.api.http.request("REPORT", url, json=context, headers={"Authorization": ""})
            assert response.status_code == 200, response.text
            self._evalx[key] = response.json()
            self._check_other_routes(context, self._evalx[key])
        return self._evalx[key]

    def _check_other_routes(self, context: dict[str, Any], evalx: dict[str, Any]) -> None:
        """The mobile route gives the same results; so does the REST evaluate route, in its own shape."""
        encoded = base64.urlsafe_b64encode(json.dumps(context).encode()).decode().rstrip("=")
        mobile = self.api.http.get(
            f"/msdk/evalx/contexts/{encoded}?withReasons=true", headers={"Authorization": self.env.mobile_key}
        )
        assert mobile.json() == evalx
        path = f"/api/v2/projects/{self.env.project}/environments/{self.env.key}/flags/evaluate"
        items = self.api.http.post(path, json=context).json()["items"]
        rest_results = {i["key"]: (i["_value"], i["reason"]) for i in items}
        evalx_results = {
            key: (e["value"], {("ruleID" if k == "ruleId" else k): v for k, v in e["reason"].items()})
            for key, e in evalx.items()
        }
        assert rest_results == evalx_results


def _compare_evalx(detail: Any, evaluated: _Evaluated, context: Any, flag_key: str) -> str | None:
    """A valid context's client-side result for the flag is what the SDK computed (before typing)."""
    if not (isinstance(context, dict) and Context.from_dict(context).valid):
        return None
    entry = evaluated.evalx(context).get(flag_key)
    if entry is None:
        ok = detail.reason == {"kind": "ERROR", "errorKind": "FLAG_NOT_FOUND"}
    else:
        value = None if detail.variation_index is None else detail.value
        ok = (json.dumps(entry["value"]), entry.get("variation"), entry["reason"]) == (
            json.dumps(value),
            detail.variation_index,
            detail.reason,
        )
    return None if ok else f"evalx {flag_key} for {context}: {entry} but the SDK said {detail}"


@pytest.mark.parametrize("vector", VECTORS, ids=_id)
def test_vector_file(server: ServerProcess, api: Rest, left_out: dict[str, dict[str, str]], vector: VectorFile) -> None:
    env = api.create_project(unique("vec"))["production"]
    refused = vector_data.create(api, env, vector.sdk_data, client_side=True)
    if refused:
        left_out.setdefault(vector.source, {}).update(refused)
    failures = []
    checked = 0
    evaluated = _Evaluated(api, env)
    with sdk_client(server.url, env.sdk_key, send_events=False) as client:
        assert client.is_initialized()
        for evaluation in vector.evaluations:
            if _dependencies(vector.sdk_data, evaluation.flag_key) & set(refused):
                continue
            checked += 1
            context = _new_form(evaluation.context)
            default, _ = resolve_default(vector, evaluation)
            detail = client.variation_detail(evaluation.flag_key, Context.from_dict(context), default)
            failures += [
                f
                for f in (
                    _check(detail, vector, evaluation),
                    _compare_evalx(detail, evaluated, context, evaluation.flag_key),
                )
                if f
            ]
    left_out["checked"][_id(vector)] = str(checked)
    assert failures == []


def test_only_known_items_are_left_out(server: ServerProcess, left_out: dict[str, dict[str, str]]) -> None:
    """Runs after the vector files on the same server (pytest keeps definition order)."""
    if not VECTORS:
        pytest.fail(f"no vectors found at {SERVER_DIR}")
    checked = left_out.pop("checked")
    assert len(checked) == len(VECTORS), "every vector file must have run first"
    assert {f: set(items) for f, items in left_out.items()} == {f: set(items) for f, items in LEFT_OUT.items()}
    for source, items in LEFT_OUT.items():
        for item, gist in items.items():
            assert gist in left_out[source][item], (source, item, left_out[source][item])
    # 600 evaluations in all; those of the items above are the only ones not compared.
    assert sum(int(n) for n in checked.values()) == CHECKED_EVALUATIONS
