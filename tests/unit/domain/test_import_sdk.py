"""Parsing LaunchDarkly's SDK payload: what is kept, what is made up where it cannot change a result, and
the exact input path of each refusal."""

from __future__ import annotations

from typing import Any

import pytest

from flagward.domain.errors import InvalidRequest
from flagward.domain.import_items import prerequisite_cycles, prerequisite_order
from flagward.domain.import_sdk import parse_payload
from flagward.domain.sdk_items import flag_item, segment_item


def _flag(**fields: Any) -> dict[str, Any]:
    return {
        "key": "f",
        "version": 5,
        "on": True,
        "salt": "s",
        "variations": [1, 2],
        "fallthrough": {"variation": 0},
    } | fields


def _parse(flags: dict[str, Any], segments: dict[str, Any] | None = None) -> Any:
    return parse_payload({"flags": flags, "segments": segments or {}}, project_key="p", env_key="production", now=1)


def test_a_parsed_flag_is_served_as_the_same_sdk_item() -> None:
    raw = _flag(
        rules=[
            {
                "id": "r1",
                "clauses": [{"attribute": "email", "op": "endsWith", "values": ["@x.com"], "negate": True}],
                "rollout": {
                    "kind": "experiment",
                    "seed": 7,
                    "bucketBy": "email",
                    "contextKind": "user",
                    "variations": [
                        {"variation": 0, "weight": 10},
                        {"variation": 1, "weight": 99990, "untracked": True},
                    ],
                },
                "trackEvents": True,
            }
        ],
        targets=[{"values": ["a"], "variation": 1}],
        contextTargets=[{"contextKind": "org", "values": ["o"], "variation": 0}],
        prerequisites=[],
        offVariation=1,
        trackEvents=False,
        trackEventsFallthrough=True,
        clientSideAvailability={"usingMobileKey": True, "usingEnvironmentId": True},
    )
    parsed = _parse({"f": raw})
    assert parsed.refusals == []
    item = flag_item(parsed.flags["f"], "production")
    assert item["rules"] == raw["rules"]
    assert (item["salt"], item["version"], item["offVariation"]) == ("s", 5, 1)
    assert item["clientSideAvailability"] == raw["clientSideAvailability"]
    # with a user placeholder for the user targets, as SDKs need once other kinds are targeted
    assert item["contextTargets"] == [
        {"contextKind": "user", "variation": 1, "values": []},
        {"contextKind": "org", "variation": 0, "values": ["o"]},
    ]


def test_a_segment_keeps_its_salt_rule_ids_and_version() -> None:
    raw = {
        "key": "s",
        "version": 8,
        "salt": "seg",
        "included": ["a"],
        "rules": [
            {"id": "sr", "clauses": [{"attribute": "k", "op": "in", "values": [1]}], "weight": 5000, "bucketBy": "k"}
        ],
    }
    parsed = _parse({}, {"s": raw})
    item = segment_item(parsed.segments["s"])
    assert (item["salt"], item["version"], item["rules"][0]["id"], item["rules"][0]["weight"]) == ("seg", 8, "sr", 5000)


@pytest.mark.parametrize(
    ("raw", "path", "reason"),
    [
        (_flag(variations=[1]), "flags.f.variations", "must have at least two entries"),
        (_flag(fallthrough={"variation": 3}), "flags.f.fallthrough.variation", "must be the index of one of"),
        (_flag(variations=[1, 1]), "flags.f.variations[1]", "duplicates another variation"),
        (
            _flag(rules=[{"id": "r", "clauses": [{"attribute": "a", "op": "bogus", "values": []}], "variation": 0}]),
            "flags.f.rules[0].clauses[0].op",
            "'bogus' is not a known operator",
        ),
        (
            _flag(salt="", fallthrough={"rollout": {"variations": [{"variation": 0, "weight": 100000}]}}),
            "flags.f.salt",
            "buckets by it",
        ),
        (
            _flag(fallthrough={"rollout": {"variations": [{"variation": 0, "weight": 100000, "untracked": "yes"}]}}),
            "flags.f.fallthrough.rollout.variations[0].untracked",
            "must be a boolean",
        ),
        ("not an object", "flags.f", "must be an object"),
    ],
)
def test_a_malformed_flag_is_refused_with_its_path(raw: Any, path: str, reason: str) -> None:
    parsed = _parse({"f": raw, "ok": _flag(key="ok")})
    assert [(r.item, r.path) for r in parsed.refusals] == [("flags/f", path)]
    assert reason in parsed.refusals[0].reason
    assert list(parsed.flags) == ["ok"]


def test_an_unused_salt_may_be_missing_and_an_off_flag_needs_no_fallthrough() -> None:
    parsed = _parse({"f": _flag(salt=None, on=False, fallthrough=None, offVariation=1)})
    assert parsed.refusals == []
    config = parsed.flags["f"].environments["production"]
    assert config["salt"] and config["fallthrough"] == {"variation": 1}


def test_a_weighted_segment_rule_needs_the_segments_salt() -> None:
    raw = {"key": "s", "rules": [{"id": "r", "clauses": [], "weight": 1}]}
    parsed = _parse({}, {"s": raw})
    assert [(r.path, r.reason) for r in parsed.refusals] == [
        ("segments.s.salt", "is missing or empty, and a weighted rule buckets by it")
    ]


def test_deleted_items_are_skipped_and_a_non_payload_is_refused_whole() -> None:
    parsed = _parse({"gone": {"key": "gone", "version": 3, "deleted": True}})
    assert parsed.skipped == ["flags/gone"] and parsed.flags == {}
    with pytest.raises(InvalidRequest, match="SDK payload"):
        parse_payload({"items": []}, project_key="p", env_key="e", now=1)


def test_prerequisites_come_first_and_cycles_are_found() -> None:
    flags = {
        "a": _flag(key="a", prerequisites=[{"key": "b", "variation": 0}]),
        "b": _flag(key="b", prerequisites=[{"key": "c", "variation": 0}]),
        "c": _flag(key="c"),
        "x": _flag(key="x", prerequisites=[{"key": "y", "variation": 0}]),
        "y": _flag(key="y", prerequisites=[{"key": "x", "variation": 0}]),
    }
    parsed = _parse(flags)
    order = prerequisite_order(parsed.flags)
    assert order.index("c") < order.index("b") < order.index("a")
    assert prerequisite_cycles(parsed.flags, "production") == {"x": ["x", "y", "x"], "y": ["y", "x", "y"]}
