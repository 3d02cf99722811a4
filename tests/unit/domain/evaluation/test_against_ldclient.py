"""Property test: flagward's evaluator agrees with the Python SDK's evaluator (``ldclient`` 9.20).

Hypothesis generates small environments (flags with targets, rules over every operator, rollouts and
experiments, prerequisites, and segments with includes/excludes/weighted rules/big segments) and
contexts over a small universe of kinds, keys, attributes and values, so that matches actually happen.
Every flag is evaluated by both evaluators; value, variation index, reason, prerequisite events,
top-level prerequisite keys and the trackEvents/trackReason flags must be identical.

What is deliberately kept out of the generated data (documented divergences, see test_operators.py):
ISO 8601 date strings that are not RFC 3339, and nested booleans compared with nested numbers.
One normalization is applied to ldclient's output: a rule without ``id`` gives ``ruleId: None`` there,
while flagward (like the Go SDK and LaunchDarkly's service) omits the field.
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
from ldclient.impl.model import FeatureFlag, Segment

from flagward.domain.evaluation import Context, ContextError, Evaluator, compile_flag, compile_segment
from flagward.domain.evaluation.operators import OPERATORS

KINDS = ["user", "org", "device"]
KEYS = ["k0", "k1", "k2", "k3"]
SEGMENT_KEYS = ["s0", "s1", "s2"]
VARIATIONS = ["v0", "v1", {"v": 2}]
DATES = ["2017-12-06T07:00:00Z", "2017-12-06T00:00:00.000-07:00", "2017-12-06T07:00:00.5+01:00", "2017-12-06"]
SCALARS: list[Any] = [
    *["", "x", "xy", "abc", "k1", "org", "user", "1.2.3", "2", "2.0.0-rc.1", "badstring", *DATES],
    *[0, 1, 99, 1.5, 99.0, 1512543600000, True, False],
]
REGEXES = ["^x", "y$", "[", "a.c", r"\d", "^k"]
# Valid references are repeated so that malformed ones stay the exception rather than the rule.
LITERAL_ATTRS = ["a", "b", "c/d", "key", "name", "kind", "anonymous", "obj", "/a"] * 4 + [""]
PATH_ATTRS = ["a", "/a", "/obj/a", "/obj/n", "/c~1d", "key", "/kind", "kind", "name", "/anonymous"] * 4 + [
    "//",
    "/a~2",
]
CONTEXT_ATTRS = ["a", "b", "c/d", "/a", "n"]

variation_index = st.sampled_from([0, 1, 2] * 10 + [3, -1])
maybe_kind = st.sampled_from([None, None, *KINDS])


@st.composite
def attribute_ref(draw: st.DrawFn) -> dict[str, Any]:
    kind = draw(maybe_kind)
    if kind is None:
        return {"attribute": draw(st.sampled_from(LITERAL_ATTRS))}
    return {"contextKind": kind, "attribute": draw(st.sampled_from(PATH_ATTRS))}


@st.composite
def clause(draw: st.DrawFn) -> dict[str, Any]:
    op = draw(st.sampled_from([*sorted(OPERATORS), "in", "in", *["segmentMatch"] * 3, "unknownOp"]))
    if op == "segmentMatch":
        pool: list[Any] = [*SEGMENT_KEYS, "missing-segment"]
    elif op == "matches":
        pool = REGEXES + SCALARS[:6]
    else:
        pool = [*SCALARS, None]
    out = {**draw(attribute_ref()), "op": op, "values": draw(st.lists(st.sampled_from(pool), max_size=3))}
    if draw(st.booleans()):
        out["negate"] = draw(st.booleans())
    return out


@st.composite
def weights(draw: st.DrawFn, count: int) -> list[int]:
    cuts = sorted(draw(st.lists(st.integers(0, 100000), min_size=count - 1, max_size=count - 1)))
    bounds = [0, *cuts, 100000]
    out = [b - a for a, b in itertools.pairwise(bounds)]
    if draw(st.integers(0, 9)) == 0:
        out[-1] = max(0, out[-1] - draw(st.integers(0, 50000)))  # weights summing below 100000
    return out


@st.composite
def rollout(draw: st.DrawFn) -> dict[str, Any]:
    count = draw(st.integers(1, 3))
    out: dict[str, Any] = {"variations": []}
    for weight in draw(weights(count)):
        wv: dict[str, Any] = {"variation": draw(variation_index), "weight": weight}
        untracked = draw(st.sampled_from([None, False, True, True]))
        if untracked is not None:
            wv["untracked"] = untracked
        out["variations"].append(wv)
    kind = draw(maybe_kind)
    if kind is not None:
        out["contextKind"] = kind
    bucket_by = draw(st.sampled_from([None, None, "", "a", "n", "key", "/obj/n", "obj", "//"]))
    if bucket_by is not None:
        out["bucketBy"] = bucket_by
    experiment = draw(st.sampled_from([None, "rollout", "experiment", "experiment"]))
    if experiment is not None:
        out["kind"] = experiment
    if draw(st.booleans()):
        out["seed"] = draw(st.integers(-5, 1000))
    if draw(st.integers(0, 29)) == 0:
        out["variations"] = []
    return out


@st.composite
def serve(draw: st.DrawFn) -> dict[str, Any]:
    choice = draw(st.integers(0, 29))
    if choice == 0:
        return {}
    if choice < 15:
        return {"variation": draw(variation_index)}
    return {"rollout": draw(rollout())}


@st.composite
def flag(draw: st.DrawFn, index: int, prerequisite_keys: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {
        "key": f"f{index}",
        "version": index + 1,
        "on": draw(st.integers(0, 3)) > 0,
        "variations": VARIATIONS,
        "fallthrough": draw(serve()),
        "salt": draw(st.sampled_from(["", "salt", "saltyA"])),
        "trackEvents": draw(st.booleans()),
        "trackEventsFallthrough": draw(st.booleans()),
        "targets": [
            {"variation": draw(variation_index), "values": draw(st.lists(st.sampled_from(KEYS), max_size=3))}
            for _ in range(draw(st.integers(0, 2)))
        ],
        "contextTargets": [],
        "rules": [],
        "prerequisites": [],
    }
    if draw(st.booleans()):
        out["offVariation"] = draw(variation_index)
    if draw(st.booleans()):
        for _ in range(draw(st.integers(1, 4))):
            kind = draw(maybe_kind)
            target: dict[str, Any] = {"variation": draw(variation_index), "values": []}
            if kind is not None:
                target["contextKind"] = kind
            if kind not in (None, "user"):
                target["values"] = draw(st.lists(st.sampled_from(KEYS), max_size=3))
            out["contextTargets"].append(target)
    for i in range(draw(st.integers(0, 3))):
        rule = {
            **draw(serve()),
            "clauses": draw(st.lists(clause(), max_size=3)),
            "trackEvents": draw(st.booleans()),
        }
        if draw(st.integers(0, 4)):
            rule["id"] = f"rule{i}"
        out["rules"].append(rule)
    if len(prerequisite_keys) > 0 and draw(st.booleans()):
        for _ in range(draw(st.integers(1, 2))):
            key = draw(st.sampled_from([*prerequisite_keys, "missing-flag"]))
            out["prerequisites"].append({"key": key, "variation": draw(variation_index)})
    return out


@st.composite
def segment(draw: st.DrawFn, key: str) -> dict[str, Any]:
    def targets() -> list[dict[str, Any]]:
        out = []
        for _ in range(draw(st.integers(0, 2))):
            t: dict[str, Any] = {"values": draw(st.lists(st.sampled_from(KEYS), max_size=2))}
            kind = draw(maybe_kind)
            if kind is not None:
                t["contextKind"] = kind
            out.append(t)
        return out

    rules = []
    for _ in range(draw(st.integers(0, 2))):
        rule: dict[str, Any] = {"clauses": draw(st.lists(clause(), max_size=2))}
        if draw(st.booleans()):
            rule["weight"] = draw(st.integers(0, 100000))
        kind = draw(maybe_kind)
        if kind is not None:
            rule["rolloutContextKind"] = kind
        bucket_by = draw(st.sampled_from([None, "a", "n", "/obj/n"]))
        if bucket_by is not None:
            rule["bucketBy"] = bucket_by
        rules.append(rule)
    out: dict[str, Any] = {
        "key": key,
        "version": 1,
        "salt": draw(st.sampled_from(["", "segsalt"])),
        "included": draw(st.lists(st.sampled_from(KEYS), max_size=2)),
        "excluded": draw(st.lists(st.sampled_from(KEYS), max_size=2)),
        "includedContexts": targets(),
        "excludedContexts": targets(),
        "rules": rules,
    }
    if draw(st.integers(0, 2)) == 0:
        out["unbounded"] = True
        if draw(st.booleans()):
            out["generation"] = draw(st.integers(0, 3))
        kind = draw(maybe_kind)
        if kind is not None:
            out["unboundedContextKind"] = kind
    return out


attr_value = st.one_of(
    st.sampled_from(SCALARS),
    st.lists(st.sampled_from(SCALARS), max_size=3),
)


@st.composite
def single_context(draw: st.DrawFn, kind: str) -> dict[str, Any]:
    out: dict[str, Any] = {"key": draw(st.sampled_from(["k0", "k1", *KEYS]))}
    for name in draw(st.lists(st.sampled_from(CONTEXT_ATTRS), unique=True, max_size=4)):
        out[name] = draw(attr_value)
    if draw(st.booleans()):
        out["obj"] = {"a": draw(st.sampled_from(SCALARS)), "n": draw(st.sampled_from(SCALARS))}
    if draw(st.booleans()):
        out["name"] = draw(st.sampled_from(["x", "abc", "k1"]))
    if draw(st.booleans()):
        out["anonymous"] = draw(st.booleans())
    return out


@st.composite
def context(draw: st.DrawFn) -> dict[str, Any]:
    kinds = draw(st.lists(st.sampled_from(KINDS), min_size=1, max_size=3, unique=True))
    if len(kinds) == 1:
        return {"kind": kinds[0], **draw(single_context(kinds[0]))}
    return {"kind": "multi", **{k: draw(single_context(k)) for k in kinds}}


@st.composite
def environment(draw: st.DrawFn, allow_cycles: bool) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    count = draw(st.integers(1, 4))
    keys = [f"f{i}" for i in range(count)]
    flags = [draw(flag(i, keys if allow_cycles else keys[i + 1 :])) for i in range(count)]
    segments = [draw(segment(key)) for key in SEGMENT_KEYS[: draw(st.sampled_from([0, 1, 2, 3, 3]))]]
    return flags, segments


@st.composite
def easy_clause(draw: st.DrawFn) -> dict[str, Any]:
    """Clauses that often match: segment references, or keys/kinds against the few keys contexts use."""
    choice = draw(st.integers(0, 3))
    if choice == 0:
        keys = draw(st.lists(st.sampled_from(SEGMENT_KEYS), min_size=1, max_size=2))
        return {"attribute": "", "op": "segmentMatch", "values": keys, "negate": draw(st.booleans())}
    if choice == 1:
        return {"attribute": "kind", "op": "in", "values": draw(st.lists(st.sampled_from(KINDS), max_size=2))}
    out = {**draw(attribute_ref()), "op": "in", "values": draw(st.lists(st.sampled_from(["k0", "k1"]), max_size=2))}
    out["attribute"] = "key"
    return out


@st.composite
def segment_environment(draw: st.DrawFn) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Flags that only test segment membership, over segments whose rules match (and cycle) often."""
    flags = []
    for i in range(draw(st.integers(1, 2))):
        keys = draw(st.lists(st.sampled_from(SEGMENT_KEYS), min_size=1, max_size=2))
        rule = {"id": "r", "variation": 0, "clauses": [{"attribute": "", "op": "segmentMatch", "values": keys}]}
        flags.append(
            {
                "key": f"f{i}",
                "version": 1,
                "on": True,
                "variations": VARIATIONS,
                "fallthrough": {"variation": 1},
                "rules": [rule],
            }
        )
    segments = []
    for key in SEGMENT_KEYS:
        seg = draw(segment(key))
        for rule in seg["rules"]:
            rule["clauses"] = draw(st.lists(easy_clause(), max_size=2))
        segments.append(seg)
    return flags, segments


@st.composite
def target_environment(draw: st.DrawFn) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Flags with only individual targets, across kinds, over the two keys contexts mostly use."""
    flags = []
    for i in range(draw(st.integers(1, 3))):

        def entry(kind: str | None) -> dict[str, Any]:
            out: dict[str, Any] = {
                "variation": draw(variation_index),
                "values": draw(st.lists(st.sampled_from(["k0", "k1"]), max_size=2)),
            }
            if kind is not None:
                out["contextKind"] = kind
            return out

        targets = [entry(None) for _ in range(draw(st.integers(0, 3)))]
        context_targets = [entry(draw(maybe_kind)) for _ in range(draw(st.sampled_from([0, 2, 3, 4, 5])))]
        flags.append(
            {
                "key": f"f{i}",
                "version": 1,
                "on": True,
                "variations": VARIATIONS,
                "fallthrough": {"variation": 1},
                "targets": targets,
                "contextTargets": context_targets,
            }
        )
    return flags, []


# --------------------------------------------------------------------------------------------------


def _ld_reason(reason: dict[str, Any] | None) -> dict[str, Any]:
    out = dict(reason or {})
    if out.get("kind") == "RULE_MATCH" and out.get("ruleId") is None:
        out.pop("ruleId", None)
    return out


def _version(flag: FeatureFlag | None) -> int | None:
    return None if flag is None else flag.version


def _key(flag: FeatureFlag | None) -> str | None:
    return None if flag is None else flag.key


def _j(value: Any) -> str:
    return json.dumps(value, sort_keys=True)


def _compare(flags: list[dict[str, Any]], segments: list[dict[str, Any]], contexts: list[dict[str, Any]]) -> None:
    for ctx in contexts:
        _compare_one(flags, segments, ctx)


class _Both:
    """The same environment loaded into both evaluators."""

    def __init__(self, flags: list[dict[str, Any]], segments: list[dict[str, Any]]) -> None:
        self.ld_flags = {f["key"]: FeatureFlag(f) for f in flags}
        ld_segments = {s["key"]: Segment(s) for s in segments}
        no_big_segment_store: Any = None  # ldclient then reports bigSegmentsStatus NOT_CONFIGURED
        self.ld_evaluator = LdEvaluator(self.ld_flags.get, ld_segments.get, no_big_segment_store)
        self.ours_flags = {f["key"]: compile_flag(f) for f in flags}
        ours_segments = {s["key"]: compile_segment(s) for s in segments}
        self.evaluator = Evaluator(self.ours_flags.get, ours_segments.get)


def _compare_one(flags: list[dict[str, Any]], segments: list[dict[str, Any]], ctx: dict[str, Any]) -> None:
    ld_context = LdContext.from_dict(ctx)
    assert ld_context.valid, ld_context.error
    _check(_Both(flags, segments), ld_context, Context.from_dict(ctx), _flag_keys(flags))


def _flag_keys(flags: list[dict[str, Any]]) -> list[str]:
    return [f["key"] for f in flags]


def _check(both: _Both, ld_context: LdContext, context_: Context, keys: list[str]) -> None:
    ld_evaluator, evaluator, ours_flags = both.ld_evaluator, both.evaluator, both.ours_flags
    for key in keys:
        ld_flag = both.ld_flags[key]
        expected = ld_evaluator.evaluate(ld_flag, ld_context, EventFactory(True))
        detail = evaluator.evaluate(ours_flags[key], context_)
        ld_detail = expected.detail
        assert ld_detail is not None
        assert (_j(detail.value), detail.variation_index, detail.reason) == (
            _j(ld_detail.value),
            ld_detail.variation_index,
            _ld_reason(ld_detail.reason),
        ), key
        assert list(detail.prerequisite_keys) == expected.prerequisites, key
        ld_events = [
            (e.key, e.variation, _j(e.value), _version(e.flag), _key(e.prereq_of), _ld_reason(e.reason), e.track_events)
            for e in expected.events or []
        ]
        ours_events = [
            (p.flag_key, p.variation_index, _j(p.value), p.version, p.prerequisite_of, p.reason, p.track_events)
            for p in detail.prerequisites
        ]
        assert ours_events == ld_events, key
        if detail.reason["kind"] != "ERROR":
            track_reason = EventFactory.is_experiment(ld_flag, ld_detail.reason)
            assert (detail.track_reason, detail.track_events) == (track_reason, ld_flag.track_events or track_reason)


_SETTINGS = settings(
    max_examples=300,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@_SETTINGS
@given(env=environment(allow_cycles=False), contexts=st.lists(context(), min_size=1, max_size=4))
def test_agrees_with_ldclient(
    env: tuple[list[dict[str, Any]], list[dict[str, Any]]], contexts: list[dict[str, Any]]
) -> None:
    _compare(env[0], env[1], contexts)


@_SETTINGS
@given(env=environment(allow_cycles=True), contexts=st.lists(context(), min_size=1, max_size=4))
def test_agrees_with_ldclient_when_prerequisites_may_cycle(
    env: tuple[list[dict[str, Any]], list[dict[str, Any]]], contexts: list[dict[str, Any]]
) -> None:
    _compare(env[0], env[1], contexts)


@_SETTINGS
@given(env=environment(allow_cycles=True), contexts=st.lists(context(), min_size=1, max_size=4))
def test_agrees_with_ldclient_when_compiled_once(
    env: tuple[list[dict[str, Any]], list[dict[str, Any]]], contexts: list[dict[str, Any]]
) -> None:
    """Flags compiled once serve many contexts, each evaluated twice (once in reverse flag order): the
    prebuilt results they share, and what is remembered on a context, must not leak between evaluations."""
    both = _Both(*env)
    keys = _flag_keys(env[0])
    parsed = [(LdContext.from_dict(c), Context.from_dict(c)) for c in contexts]
    for ld_context, context_ in parsed + parsed[::-1]:
        _check(both, ld_context, context_, keys)
        _check(both, ld_context, context_, keys[::-1])


@_SETTINGS
@given(env=segment_environment(), contexts=st.lists(context(), min_size=1, max_size=4))
def test_segment_membership_agrees_with_ldclient(
    env: tuple[list[dict[str, Any]], list[dict[str, Any]]], contexts: list[dict[str, Any]]
) -> None:
    _compare(env[0], env[1], contexts)


@_SETTINGS
@given(env=target_environment(), contexts=st.lists(context(), min_size=1, max_size=4))
def test_targets_agree_with_ldclient(
    env: tuple[list[dict[str, Any]], list[dict[str, Any]]], contexts: list[dict[str, Any]]
) -> None:
    _compare(env[0], env[1], contexts)


# --------------------------------------------------------------------------------------------------
# Context validity


_VALID_KINDS = ["user", "org", "a.b-c_1"]
# (property, invalid values); "-" means "remove the property".
_INVALIDATIONS: list[tuple[str, list[Any]]] = [
    ("key", [None, "", 1, "-"]),
    ("name", [1, True]),
    ("anonymous", [None, "true", 1]),
    ("_meta", ["x", {"privateAttributes": "a"}, {"privateAttributes": [1]}]),
    ("", ["x"]),
    ("kind", ["kind", "multi", "", "bad kind", "ü", 1, None]),
]


@st.composite
def valid_properties(draw: st.DrawFn) -> dict[str, Any]:
    out: dict[str, Any] = {"key": draw(st.sampled_from(["x", "k:%", "a b"]))}
    optional: dict[str, list[Any]] = {
        "name": ["n", None],
        "anonymous": [True, False],
        "_meta": [None, {}, {"privateAttributes": ["a", "/b"]}],
        "a": ["x", 1, None, [1, "x"], {"n": 1}],
    }
    for name in draw(st.lists(st.sampled_from(sorted(optional)), unique=True)):
        out[name] = draw(st.sampled_from(optional[name]))
    return out


@st.composite
def maybe_invalidated(draw: st.DrawFn, props: dict[str, Any], allow_kind: bool) -> dict[str, Any]:
    """``props`` unchanged, or with exactly one property made invalid (so each rule is tested alone)."""
    choices = [c for c in _INVALIDATIONS if allow_kind or c[0] != "kind"]
    if draw(st.booleans()):
        return props
    name, values = draw(st.sampled_from(choices))
    value = draw(st.sampled_from(values))
    out = dict(props)
    if value == "-":
        out.pop(name, None)
    else:
        out[name] = value
    return out


@st.composite
def any_context_dict(draw: st.DrawFn) -> dict[str, Any]:
    if draw(st.booleans()):
        props = {**draw(valid_properties()), "kind": draw(st.sampled_from(_VALID_KINDS))}
        return draw(maybe_invalidated(props, allow_kind=True))
    out: dict[str, Any] = {"kind": "multi"}
    kinds = draw(st.lists(st.sampled_from(_VALID_KINDS), unique=True, max_size=3))
    for kind in kinds:
        out[kind] = draw(valid_properties())
    if len(kinds) > 0 and draw(st.booleans()):
        target = draw(st.sampled_from(kinds))
        out[target] = draw(maybe_invalidated(out[target], allow_kind=True))
    if draw(st.integers(0, 4)) == 0:
        out[draw(st.sampled_from(["kind-x", "bad kind", "multi", "kind"]))] = draw(
            st.sampled_from([{"key": "y"}, "x", None])
        )
    return out


@settings(max_examples=300, deadline=None, derandomize=True, database=None)
@given(data=any_context_dict())
def test_context_validity_agrees_with_ldclient(data: dict[str, Any]) -> None:
    expected = LdContext.from_dict(data)
    try:
        ours = Context.from_dict(data)
    except ContextError:
        assert not expected.valid, expected.to_dict()
        return
    assert expected.valid, (data, expected.error)
    assert ours.to_dict() == expected.to_dict()
    assert ours.fully_qualified_key == expected.fully_qualified_key
