"""Property: a move keeps every bucket. Flags with percentage rollouts (random salts, bucketBy, context
kinds, seeds, experiments) and segments with weighted rules are imported from an SDK payload; the
payload flagward then serves (the export) is imported into a second project and exported again. For a
few thousand contexts, LaunchDarkly's evaluator (``ldclient``) on the original payload, and both
``ldclient`` and flagward's evaluator on each export, give the same variation and reason.
"""

from __future__ import annotations

import itertools
import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ldclient import Context as LdContext
from ldclient.impl.evaluator import Evaluator as LdEvaluator
from ldclient.impl.events.types import EventFactory
from ldclient.impl.model import FeatureFlag
from ldclient.impl.model import Segment as LdSegment

from flagward.domain.accounts import Role
from flagward.domain.evaluation import Context, Evaluator, compile_flag, compile_segment
from flagward.services.exporting import export_environment
from flagward.services.importing import ImportOptions, import_environment
from tests.unit.services.conftest import World

KINDS = ("user", "org")
CONTEXTS = [
    {
        "kind": "multi",
        "user": {"key": f"user-{i}", "email": f"u{i % 97}@example.com", "plan": ["free", "pro"][i % 2]},
        "org": {"key": f"org-{i % 13}", "tier": i % 5},
    }
    for i in range(400)
]
salts = st.text(alphabet="0123456789abcdef", min_size=1, max_size=32)


@st.composite
def weights(draw: st.DrawFn, count: int) -> list[int]:
    cuts = sorted(draw(st.lists(st.integers(0, 100_000), min_size=count - 1, max_size=count - 1)))
    return [b - a for a, b in itertools.pairwise([0, *cuts, 100_000])]


@st.composite
def rollout(draw: st.DrawFn, count: int) -> dict[str, Any]:
    out: dict[str, Any] = {
        "variations": [
            {"variation": i, "weight": w, **({"untracked": True} if draw(st.booleans()) else {})}
            for i, w in enumerate(draw(weights(count)))
        ]
    }
    kind = draw(st.sampled_from(KINDS))
    out["contextKind"] = kind
    bucket_by = draw(st.sampled_from([None, "key", "email" if kind == "user" else "tier"]))
    if bucket_by:
        out["bucketBy"] = bucket_by
    if draw(st.integers(0, 3)) == 0:
        out["seed"] = draw(st.integers(-(2**31), 2**31 - 1))
    if draw(st.booleans()):
        out["kind"] = "experiment"
    return out


@st.composite
def flag(draw: st.DrawFn, index: int) -> dict[str, Any]:
    count = draw(st.integers(2, 4))
    rules = []
    if draw(st.booleans()):
        clause = {"attribute": "", "op": "segmentMatch", "values": ["seg"], "negate": False}
        rules.append(
            {"id": f"rule-{index}", "clauses": [clause], "rollout": draw(rollout(count)), "trackEvents": False}
        )
    return {
        "key": f"flag-{index}",
        "version": draw(st.integers(1, 500)),
        "on": True,
        "salt": draw(salts),
        "variations": [f"v{i}" for i in range(count)],
        "fallthrough": {"rollout": draw(rollout(count))},
        "offVariation": 0,
        "rules": rules,
        "targets": [],
        "contextTargets": [],
        "prerequisites": [],
        "trackEvents": False,
        "trackEventsFallthrough": False,
    }


@st.composite
def payload(draw: st.DrawFn) -> dict[str, Any]:
    segment = {
        "key": "seg",
        "version": draw(st.integers(1, 50)),
        "salt": draw(salts),
        "included": [],
        "excluded": [],
        "rules": [
            {
                "id": "seg-rule",
                "clauses": [{"attribute": "plan", "op": "in", "values": ["pro"], "negate": False}],
                "weight": draw(st.integers(0, 100_000)),
                "rolloutContextKind": "user",
                **({"bucketBy": "email"} if draw(st.booleans()) else {}),
            }
        ],
    }
    flags = [draw(flag(i)) for i in range(draw(st.integers(1, 3)))]
    return {"flags": {f["key"]: f for f in flags}, "segments": {"seg": segment}}


def _ldclient_results(data: dict[str, Any]) -> list[tuple[str, Any, Any]]:
    flags = {k: FeatureFlag(f) for k, f in data["flags"].items()}
    segments = {k: LdSegment(s) for k, s in data["segments"].items()}
    no_big_segments: Any = None
    evaluator = LdEvaluator(flags.get, segments.get, no_big_segments)
    results = []
    for ctx in CONTEXTS:
        context = LdContext.from_dict(ctx)
        for key, item in sorted(flags.items()):
            detail = evaluator.evaluate(item, context, EventFactory(False)).detail
            results.append((key, detail.variation_index, json.dumps(detail.reason, sort_keys=True)))
    return results


def _flagward_results(data: dict[str, Any]) -> list[tuple[str, Any, Any]]:
    flags = {k: compile_flag(f) for k, f in data["flags"].items()}
    segments = {k: compile_segment(s) for k, s in data["segments"].items()}
    evaluator = Evaluator(flags.get, segments.get)
    results = []
    for ctx in CONTEXTS:
        context = Context.from_dict(ctx)
        for key, item in sorted(flags.items()):
            detail = evaluator.evaluate(item, context)
            results.append((key, detail.variation_index, json.dumps(detail.reason, sort_keys=True)))
    return results


def _move(world: World, data: dict[str, Any], project: str) -> dict[str, Any]:
    """Import ``data`` into ``project``/production as an owner; what flagward then serves there."""
    owner = world.member(Role.OWNER, f"owner-{project}@example.com")
    plan = import_environment(
        world.deps, actor=owner, project_key=project, env_key="production", payload=data, options=ImportOptions()
    )
    assert plan.refusals == []
    return export_environment(world.deps, actor=owner, project_key=project, env_key="production")


@settings(
    max_examples=40,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(data=payload())
def test_buckets_survive_import_and_an_export_import_round_trip(data: dict[str, Any]) -> None:
    world = World()
    first = _move(world, data, "moved")
    second = _move(world, first, "copied")
    for served in (first, second):
        for key, item in data["flags"].items():
            assert (served["flags"][key]["salt"], served["flags"][key]["version"]) == (item["salt"], item["version"])
        assert served["segments"]["seg"]["salt"] == data["segments"]["seg"]["salt"]
    expected = _ldclient_results(data)
    assert len(expected) >= len(CONTEXTS)
    assert _ldclient_results(first) == expected
    assert _flagward_results(first) == expected
    assert _ldclient_results(second) == expected
    assert _flagward_results(second) == expected
