"""Domain flags and segments become exactly what the SDKs parse (sdk-protocol.md §2)."""

from __future__ import annotations

from typing import Any

from ldclient.impl.model.feature_flag import FeatureFlag
from ldclient.impl.model.segment import Segment as LdSegment

from flagward.domain.flags import Defaults, Flag, new_config
from flagward.domain.projects import ClientSideAvailability
from flagward.domain.segments import Segment
from flagward.streaming.payloads import flag_item, segment_item, tombstone


def _flag(**config: Any) -> Flag:
    flag = Flag(
        id="f" * 24,
        project_key="p",
        key="checkout",
        name="Checkout",
        kind="multivariate",
        variations=[{"_id": "a", "value": "red"}, {"_id": "b", "value": "green"}, {"_id": "c", "value": {"x": 1}}],
        creation_date=1,
        defaults=Defaults(0, 2),
        client_side_availability=ClientSideAvailability(using_mobile_key=False, using_environment_id=True),
    )
    flag.environments["production"] = {**new_config(flag.defaults, now=1, version=7), **config}  # type: ignore[typeddict-item]
    return flag


RULE: dict[str, Any] = {
    "_id": "rule-1",
    "clauses": [
        {"_id": "clause-1", "attribute": "email", "op": "endsWith", "values": ["@x.com"], "negate": False},
        {"_id": "clause-2", "contextKind": "org", "attribute": "/tier", "op": "in", "values": [1], "negate": True},
    ],
    "trackEvents": True,
    "description": "not for SDKs",
    "rollout": {
        "variations": [{"variation": 0, "weight": 40000, "_untracked": True}, {"variation": 1, "weight": 60000}],
        "bucketBy": "email",
        "seed": 61,
        "experimentAllocation": {"defaultVariation": 0, "canReshuffle": False},
    },
}


def test_a_flag_in_the_sdk_schema() -> None:
    flag = _flag(
        on=True,
        rules=[RULE],
        targets=[{"values": ["alice"], "variation": 1, "contextKind": "user"}],
        contextTargets=[
            {"contextKind": "user", "variation": 1, "values": []},
            {"contextKind": "org", "variation": 2, "values": ["acme"]},
        ],
        prerequisites=[{"key": "other", "variation": 0}],
        _debugEventsUntilDate=1_800_000_000_000,
    )
    item = flag_item(flag, "production")
    FeatureFlag(item)  # the SDK's strict parser accepts it
    config = flag.environments["production"]
    assert item == {
        "key": "checkout",
        "version": 7,
        "on": True,
        "variations": ["red", "green", {"x": 1}],
        "offVariation": 2,
        "fallthrough": {"variation": 0},
        "prerequisites": [{"key": "other", "variation": 0}],
        "targets": [{"values": ["alice"], "variation": 1}],
        "contextTargets": [
            {"contextKind": "user", "variation": 1, "values": []},
            {"contextKind": "org", "variation": 2, "values": ["acme"]},
        ],
        "rules": [
            {
                "id": "rule-1",
                "clauses": [
                    {"attribute": "email", "op": "endsWith", "values": ["@x.com"], "negate": False},
                    {"attribute": "/tier", "op": "in", "values": [1], "negate": True, "contextKind": "org"},
                ],
                "trackEvents": True,
                "rollout": {
                    "variations": [
                        {"variation": 0, "weight": 40000, "untracked": True},
                        {"variation": 1, "weight": 60000},
                    ],
                    "bucketBy": "email",
                    "seed": 61,
                    "kind": "experiment",
                },
            }
        ],
        "salt": config["salt"],
        "trackEvents": False,
        "trackEventsFallthrough": False,
        "debugEventsUntilDate": 1_800_000_000_000,
        "clientSide": True,
        "clientSideAvailability": {"usingMobileKey": False, "usingEnvironmentId": True},
        "deleted": False,
    }


def test_without_an_off_variation_the_field_is_absent() -> None:
    item = flag_item(_flag(offVariation=None), "production")
    assert "offVariation" not in item
    FeatureFlag(item)


def test_a_disabled_rule_keeps_its_place_but_never_matches() -> None:
    from flagward.domain.evaluation import Context, Evaluator, compile_flag

    rule = {"_id": "r", "clauses": [], "trackEvents": False, "variation": 1, "disabled": True}
    item = flag_item(_flag(on=True, rules=[rule]), "production")
    assert item["rules"][0]["id"] == "r" and "disabled" not in item["rules"][0]
    compiled = compile_flag(item)
    detail = Evaluator(lambda _: None, lambda _: None).evaluate(compiled, Context.create("anyone"))
    assert detail.reason == {"kind": "FALLTHROUGH"}


def test_an_archived_flag_is_a_tombstone_with_its_configuration_version() -> None:
    flag = _flag()
    flag.archived = True
    assert (
        flag_item(flag, "production") == tombstone("checkout", 7) == {"key": "checkout", "version": 7, "deleted": True}
    )


def test_a_segment_in_the_sdk_schema() -> None:
    segment = Segment(
        id="s" * 24,
        project_key="p",
        environment_key="production",
        key="beta",
        name="Beta",
        creation_date=1,
        last_modified=1,
        salt="pepper",
        included=["u1"],
        excluded=["u2"],
        included_contexts=[{"contextKind": "org", "values": ["o1"]}],
        rules=[
            {
                "_id": "sr",
                "clauses": [{"_id": "c", "attribute": "plan", "op": "in", "values": ["gold"], "negate": False}],
                "weight": 50000,
                "bucketBy": "key",
                "rolloutContextKind": "user",
                "description": "half of gold",
            }
        ],
        version=4,
    )
    item = segment_item(segment)
    LdSegment(item)
    assert item == {
        "key": "beta",
        "version": 4,
        "included": ["u1"],
        "excluded": ["u2"],
        "includedContexts": [{"contextKind": "org", "values": ["o1"]}],
        "excludedContexts": [],
        "rules": [
            {
                "id": "sr",
                "clauses": [{"attribute": "plan", "op": "in", "values": ["gold"], "negate": False}],
                "weight": 50000,
                "bucketBy": "key",
                "rolloutContextKind": "user",
            }
        ],
        "salt": "pepper",
        "unbounded": False,
        "generation": 1,
        "deleted": False,
    }
