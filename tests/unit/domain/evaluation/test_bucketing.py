"""Bucketing: the cross-SDK known values, and how rollouts and segment weights use them."""

from __future__ import annotations

from typing import Any

import pytest

from flagward.domain.evaluation import Context, Evaluator, compile_flag, compile_segment
from flagward.domain.evaluation.bucketing import (
    bucket_hash,
    bucket_value,
    bucketable,
    cumulative_thresholds,
    prefix_for,
)

# Identical in the Go, JS, Ruby, C, Rust and Python SDKs (flag key "hashKey", salt "saltyA").
KNOWN = [
    ("userKeyA", 0.42157587, 0.09801207),
    ("userKeyB", 0.6708485, 0.14483777),
    ("userKeyC", 0.10343106, 0.9242641),
]


@pytest.mark.parametrize(("key", "unseeded", "seeded"), KNOWN)
def test_known_bucket_values(key: str, unseeded: float, seeded: float) -> None:
    assert bucket_value(prefix_for("hashKey", "saltyA"), key) == pytest.approx(unseeded, abs=1e-7)
    assert bucket_value(prefix_for("hashKey", "saltyA", seed=61), key) == pytest.approx(seeded, abs=1e-7)


def test_int_attribute_buckets_like_its_string() -> None:
    prefix = prefix_for("hashKey", "saltyA")
    assert bucket_value(prefix, 33333) == bucket_value(prefix, "33333") == pytest.approx(0.54771423, abs=1e-7)


@pytest.mark.parametrize("value", [33.5, 1.0, True, False, None, ["a"], {"a": 1}])
def test_unbucketable_values_bucket_to_zero(value: Any) -> None:
    assert bucketable(value) is None
    assert bucket_value(prefix_for("hashKey", "saltyA"), value) == 0.0


def test_seed_replaces_flag_key_and_salt() -> None:
    assert prefix_for("any-flag", "any-salt", seed=61) == "61"
    assert bucket_hash("61", "userKeyA") == bucket_value(prefix_for("hashKey", "saltyA", 61), "userKeyA")


def test_thresholds_are_running_float_sums() -> None:
    total = 0.0
    expected = []
    for w in (33333, 33333, 33334):
        total += w / 100000.0
        expected.append(total)
    assert cumulative_thresholds([33333, 33333, 33334]) == tuple(expected)


def _rollout_flag(rollout: dict[str, Any], key: str = "hashKey", salt: str = "saltyA") -> dict[str, Any]:
    return {
        "key": key,
        "version": 1,
        "on": True,
        "salt": salt,
        "variations": ["a", "b", "c"],
        "fallthrough": {"rollout": rollout},
    }


def _evaluate(flag: dict[str, Any], context: dict[str, Any]) -> tuple[Any, int | None, dict[str, Any]]:
    detail = Evaluator(lambda _k: None, lambda _k: None).evaluate(compile_flag(flag), Context.from_dict(context))
    return detail.value, detail.variation_index, detail.reason


@pytest.mark.parametrize(("key", "unseeded", "_seeded"), KNOWN)
def test_rollout_brackets_the_bucket(key: str, unseeded: float, _seeded: float) -> None:
    # As the harness does: a boundary just below the bucket puts the context in the second slot,
    # one just above puts it in the first.
    boundary = int(unseeded * 100000)
    below = {"variations": [{"variation": 0, "weight": boundary}, {"variation": 1, "weight": 100000 - boundary}]}
    above = {"variations": [{"variation": 0, "weight": boundary + 1}, {"variation": 1, "weight": 99999 - boundary}]}
    context = {"kind": "user", "key": key}
    assert _evaluate(_rollout_flag(below), context)[1] == 1
    assert _evaluate(_rollout_flag(above), context)[1] == 0


def test_bucket_past_the_last_threshold_goes_to_the_last_variation() -> None:
    rollout = {"variations": [{"variation": 0, "weight": 1}, {"variation": 2, "weight": 1}]}
    assert _evaluate(_rollout_flag(rollout), {"kind": "user", "key": "userKeyB"})[:2] == ("c", 2)


def test_bucket_by_attribute_and_path() -> None:
    boundary = int(0.54771423 * 100000)
    weights = [{"variation": 0, "weight": boundary}, {"variation": 1, "weight": 100000 - boundary}]
    literal = {"bucketBy": "n", "variations": weights}
    path = {"bucketBy": "/obj/n", "contextKind": "user", "variations": weights}
    assert _evaluate(_rollout_flag(literal), {"kind": "user", "key": "x", "n": 33333})[1] == 1
    assert _evaluate(_rollout_flag(path), {"kind": "user", "key": "x", "obj": {"n": "33333"}})[1] == 1
    # A missing or float attribute buckets to 0.0: the first slot.
    assert _evaluate(_rollout_flag(literal), {"kind": "user", "key": "x"})[1] == 0
    assert _evaluate(_rollout_flag(literal), {"kind": "user", "key": "x", "n": 33333.0})[1] == 0


def test_experiment_ignores_bucket_by_and_reports_in_experiment() -> None:
    boundary = int(0.42157587 * 100000)
    rollout: dict[str, Any] = {
        "kind": "experiment",
        "bucketBy": "n",
        "variations": [{"variation": 0, "weight": boundary}, {"variation": 1, "weight": 100000 - boundary}],
    }
    value, index, reason = _evaluate(_rollout_flag(rollout), {"kind": "user", "key": "userKeyA", "n": 0})
    assert (value, index, reason) == ("b", 1, {"kind": "FALLTHROUGH", "inExperiment": True})
    rollout["variations"][1]["untracked"] = True
    assert _evaluate(_rollout_flag(rollout), {"kind": "user", "key": "userKeyA"})[2] == {"kind": "FALLTHROUGH"}


def test_rollout_for_absent_context_kind_takes_first_slot_outside_experiment() -> None:
    rollout = {
        "kind": "experiment",
        "contextKind": "org",
        "variations": [{"variation": 1, "weight": 0}, {"variation": 2, "weight": 100000}],
    }
    assert _evaluate(_rollout_flag(rollout), {"kind": "user", "key": "u"}) == ("b", 1, {"kind": "FALLTHROUGH"})


def test_rollout_uses_the_context_of_its_kind() -> None:
    boundary = int(0.42157587 * 100000)
    rollout = {
        "contextKind": "org",
        "variations": [{"variation": 0, "weight": boundary}, {"variation": 1, "weight": 100000 - boundary}],
    }
    multi = {"kind": "multi", "user": {"key": "userKeyC"}, "org": {"key": "userKeyA"}}
    assert _evaluate(_rollout_flag(rollout), multi)[1] == 1


def test_segment_rule_weight_buckets_by_segment_key_and_salt() -> None:
    bucket = bucket_value(prefix_for("seg", "segsalt"), "userKeyA")
    weight = int(bucket * 100000)
    segments = {
        key: compile_segment(
            {
                "key": "seg",
                "version": 1,
                "salt": "segsalt",
                "rules": [{"clauses": [], "weight": w}],
            }
        )
        for key, w in (("below", weight), ("above", weight + 1))
    }
    evaluator = Evaluator(lambda _k: None, segments.get)
    context = Context.from_dict({"kind": "user", "key": "userKeyA"})
    for segment_key, expected in (("below", 1), ("above", 0)):
        flag = compile_flag(
            {
                "key": "f",
                "version": 1,
                "on": True,
                "variations": [True, False],
                "fallthrough": {"variation": 1},
                "rules": [
                    {
                        "id": "r",
                        "variation": 0,
                        "clauses": [{"attribute": "", "op": "segmentMatch", "values": [segment_key]}],
                    }
                ],
            }
        )
        assert evaluator.evaluate(flag, context).variation_index == expected
