"""Identical bucketing after a move: every file of LaunchDarkly's server-side evaluation vectors is loaded
through the import (``POST /api/v2/projects/{p}/import``, the service ``flagward import`` calls), salts,
rule ids and versions included, and the official Python SDK, streaming from a real flagward server,
must evaluate every case as the file expects.

The import refuses malformed data item by item, with the path and the reason; ``REFUSED`` names each
such item and says why LaunchDarkly's REST API would not hold it either. The evaluations that depend on
a refused item are the only ones not compared (``CHECKED_EVALUATIONS`` pins how many are).
"""

from __future__ import annotations

from typing import Any

import pytest
from ldclient import Context

from tests.api.sdk.test_vectors_through_sdk import _check, _dependencies, _id, _new_form
from tests.support.accounts import unique
from tests.support.sdk import Rest, sdk_client
from tests.support.server import ServerProcess
from tests.unit.domain.evaluation.vectors import VECTORS_ROOT, VectorFile, load_vector_files, resolve_default

pytestmark = pytest.mark.slow

SERVER_DIR = VECTORS_ROOT / "server-side-eval"
VECTORS = load_vector_files(SERVER_DIR) if SERVER_DIR.is_dir() else []
CHECKED_EVALUATIONS = 545  # of 600

_TYPES = ("any", "bool", "double", "int", "string")
_WHERE = ("fallthrough", "off", "rule-match", "target-match")
_ONE_VARIATION = "must have at least two entries"  # LaunchDarkly's REST API needs two as well

# file -> item -> (the refusal's path, a gist of its reason). Why each is malformed:
REFUSED: dict[str, dict[str, tuple[str, str]]] = {
    # One variation only (the vectors test an index out of range, or no off variation, on it).
    "server-side-eval/errors.yml": {
        f"flags/{where}-{t}": (f"flags.{where}-{t}.variations", _ONE_VARIATION)
        for where in (
            *(
                f"{w}-variation-too-{hl}"
                for w in ("fallthrough", "off", "rule-match", "target-match")
                for hl in ("high", "low")
            ),
            "no-off-variation",
        )
        for t in _TYPES
    },
    # A clause with an empty attribute reference.
    "server-side-eval/errors-bad-attribute-reference.yml": {
        "flags/test-flag": ("flags.test-flag.rules[0].clauses[0].attribute", "is required"),
    },
    # Prerequisites that name each other in a circle, or a flag that does not exist.
    "server-side-eval/prerequisites.yml": {
        **{
            f"flags/flag-with-prereq-cycle-at-{level}-level-{n}": (
                f"flags.flag-with-prereq-cycle-at-{level}-level-{n}.prerequisites",
                "form a cycle",
            )
            for level, n in (("top", 1), ("top", 2), ("top", 3), ("deeper", 2), ("deeper", 3))
        },
        # Not in the cycle, but its prerequisite is, and was refused.
        "flags/flag-with-prereq-cycle-at-deeper-level-1": (
            "flags.flag-with-prereq-cycle-at-deeper-level-1.prerequisites[0].key",
            "does not exist",
        ),
        "flags/flag-with-unknown-prereq": ("flags.flag-with-unknown-prereq.prerequisites[1].key", "does not exist"),
    },
    # An operator LaunchDarkly does not have.
    "server-side-eval/rule-match.yml": {
        "flags/flag-with-unknown-operator-in-first-rule": (
            "flags.flag-with-unknown-operator-in-first-rule.rules[0].clauses[0].op",
            "is not a known operator",
        ),
    },
    # A segmentMatch naming a segment that does not exist.
    "server-side-eval/segment-match.yml": {
        "flags/flag-using-unknown-segment": (
            "flags.flag-using-unknown-segment.rules[0].clauses[0].values[0]",
            "does not exist",
        ),
    },
    # Two variations with the same value.
    "server-side-eval/variation-value-types.yml": {
        "flags/off-flag": ("flags.off-flag.variations[2]", "duplicates another variation"),
        "flags/on-flag": ("flags.on-flag.variations[2]", "duplicates another variation"),
    },
}


@pytest.fixture(scope="module")
def refused_seen(server: ServerProcess) -> dict[str, dict[str, dict[str, str]]]:
    """What the import refused per file (filled in as the files run), and evaluations compared per file."""
    return {"checked": {}}


def _import(api: Rest, project: str, sdk_data: dict[str, Any]) -> dict[str, Any]:
    path = f"/api/v2/projects/{project}/import?environmentKey=production"
    response = api.http.post(path, json=sdk_data)
    assert response.status_code == 200, response.text
    return dict(response.json())


@pytest.mark.parametrize("vector", VECTORS, ids=_id)
def test_vector_file_through_import(
    server: ServerProcess, api: Rest, refused_seen: dict[str, Any], vector: VectorFile
) -> None:
    project = unique("imp")
    result = _import(api, project, vector.sdk_data)
    refused = {r["item"]: r for r in result["refused"]}
    for r in result["refused"]:
        refused_seen.setdefault(vector.source, {})[r["item"]] = r
    imported = {i["item"] for i in result["created"] if i["item"].startswith(("flags/", "segments/"))}
    assert imported | set(refused) == {f"flags/{k}" for k in vector.sdk_data["flags"]} | {
        f"segments/{k}" for k in vector.sdk_data["segments"]
    }
    env = api.environment(project, "production")
    failures, checked = [], 0
    with sdk_client(server.url, env.sdk_key, send_events=False) as client:
        assert client.is_initialized()
        for evaluation in vector.evaluations:
            if _dependencies(vector.sdk_data, evaluation.flag_key) & set(refused):
                continue
            checked += 1
            default, _ = resolve_default(vector, evaluation)
            context = Context.from_dict(_new_form(evaluation.context))
            detail = client.variation_detail(evaluation.flag_key, context, default)
            failure = _check(detail, vector, evaluation)
            if failure:
                failures.append(failure)
    refused_seen["checked"][_id(vector)] = checked
    assert failures == []


def test_exactly_the_malformed_items_are_refused(refused_seen: dict[str, Any]) -> None:
    """Runs after the vector files on the same server (pytest keeps definition order)."""
    if not VECTORS:
        pytest.fail(f"no vectors found at {SERVER_DIR}")
    checked = refused_seen.pop("checked")
    assert len(checked) == len(VECTORS), "every vector file must have run first"
    assert {f: set(items) for f, items in refused_seen.items()} == {f: set(items) for f, items in REFUSED.items()}
    for source, items in REFUSED.items():
        for item, (path, gist) in items.items():
            got = refused_seen[source][item]
            assert (got["path"], gist in got["reason"]) == (path, True), (source, item, got)
    assert sum(checked.values()) == CHECKED_EVALUATIONS
