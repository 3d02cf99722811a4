"""validate_segment: what every segment must satisfy after a JSON or merge patch."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from flagward.domain.errors import InvalidRequest
from flagward.domain.segment_changes import validate_segment
from flagward.domain.segments import Segment
from tests.unit.domain.segments.factories import make_clause, make_context, make_rule, make_segment, segment_clause


def valid_segment() -> Segment:
    return make_segment(
        included=["u1"],
        excluded=["u2"],
        included_contexts=[{"contextKind": "org", "values": ["o1"]}],
        excluded_contexts=[{"contextKind": "org", "values": ["o2"]}, {"contextKind": "device", "values": ["u1"]}],
        rules=[
            make_rule("r1", make_clause("c1"), segment_clause("c2", "staff"), weight=0, bucketBy="email"),
            make_rule("r2", weight=100_000, rolloutContextKind="org", description="all orgs"),
        ],
        tags=["beta"],
    )


def test_a_valid_segment_passes() -> None:
    validate_segment(valid_segment(), make_context({"staff": []}))


def rule_field(field: str, value: Any) -> Callable[[Segment], None]:
    def change(segment: Segment) -> None:
        segment.rules[0][field] = value  # type: ignore[literal-required]

    return change


def clause_field(field: str, value: Any) -> Callable[[Segment], None]:
    def change(segment: Segment) -> None:
        segment.rules[0]["clauses"][0][field] = value  # type: ignore[literal-required]

    return change


def setter(name: str, value: Any) -> Callable[[Segment], None]:
    return lambda segment: setattr(segment, name, value)


@pytest.mark.parametrize(
    ("breaking", "reason"),
    [
        (setter("name", ""), "name is required"),
        (setter("name", "  "), "name is required"),
        (setter("description", None), "description must be a string"),
        (setter("tags", ["ok", 1]), "tags must be a list of non-empty strings"),
        (setter("included", [""]), "included must be a list of non-empty strings"),
        (setter("excluded", "u2"), "excluded must be a list"),
        (setter("included_contexts", [["org"]]), "includedContexts[0] must be an object"),
        (setter("included_contexts", [{"contextKind": "o g", "values": []}]), "includedContexts[0].contextKind"),
        (setter("excluded_contexts", [{"contextKind": "user", "values": ["x"]}]), "user keys belong in excluded"),
        (
            setter("included_contexts", [{"contextKind": "org", "values": []}, {"contextKind": "org", "values": []}]),
            "includedContexts[1]: context kind 'org' has more than one entry",
        ),
        (setter("included_contexts", [{"contextKind": "org", "values": [3]}]), "includedContexts[0].values"),
        (setter("included", ["u1", "u2"]), "'u2' cannot be both included and excluded for context kind 'user'"),
        (
            setter("included_contexts", [{"contextKind": "org", "values": ["o1", "o2"]}]),
            "'o2' cannot be both included and excluded for context kind 'org'",
        ),
        (setter("rules", {}), "rules must be a list"),
        (setter("rules", ["r1"]), "rules[0] must be an object"),
        (rule_field("_id", ""), "rules[0]._id must be a non-empty string"),
        (rule_field("_id", "r2"), "rules[1]._id 'r2' is used by another rule"),
        (rule_field("clauses", None), "rules[0].clauses must be a list"),
        (rule_field("weight", True), "rules[0].weight must be an integer from 0 to 100000"),
        (rule_field("weight", -1), "rules[0].weight must be an integer"),
        (rule_field("weight", 100_001), "rules[0].weight must be an integer"),
        (rule_field("weight", 50_000.0), "rules[0].weight must be an integer"),
        (rule_field("weight", "5"), "rules[0].weight must be an integer"),
        (rule_field("bucketBy", ""), "rules[0].bucketBy must be a non-empty string"),
        (rule_field("rolloutContextKind", "kind"), "rules[0].rolloutContextKind must be a context kind"),
        (rule_field("description", 1), "rules[0].description must be a string"),
        (clause_field("op", "like"), "rules[0].clauses[0].op 'like' is not a known operator"),
        (clause_field("_id", None), "rules[0].clauses[0]._id must be a non-empty string"),
        (clause_field("_id", "c2"), "rules[0].clauses[1]._id 'c2' is used by another clause"),
        (clause_field("values", 5), "rules[0].clauses[0].values must be a list"),
    ],
)
def test_invalid_segments_are_refused(breaking: Callable[[Segment], None], reason: str) -> None:
    segment = valid_segment()
    breaking(segment)

    with pytest.raises(InvalidRequest) as caught:
        validate_segment(segment, make_context({"staff": []}))

    assert reason in caught.value.message


def test_segment_match_must_name_an_existing_segment() -> None:
    with pytest.raises(InvalidRequest, match="'staff', which does not exist in this environment"):
        validate_segment(valid_segment(), make_context())


def test_a_segment_may_not_match_itself() -> None:
    segment = make_segment(rules=[make_rule("r1", segment_clause("c1", "beta"))])

    with pytest.raises(InvalidRequest, match="cycle: beta → beta"):
        validate_segment(segment, make_context())


def test_segment_match_may_not_lead_back_through_other_segments() -> None:
    segment = make_segment(rules=[make_rule("r1", segment_clause("c1", "a", "c"))])
    context = make_context(
        {
            "a": [make_rule("ra", make_clause())],
            "c": [make_rule("rc", segment_clause("x", "d"))],
            "d": [make_rule("rd", make_clause(), segment_clause("y", "a", "beta"))],
        }
    )

    with pytest.raises(InvalidRequest, match="cycle: beta → c → d → beta"):
        validate_segment(segment, context)


def test_a_diamond_of_references_is_not_a_cycle() -> None:
    segment = make_segment(rules=[make_rule("r1", segment_clause("c1", "a", "b"))])
    context = make_context(
        {"a": [make_rule("ra", segment_clause("x", "c"))], "b": [make_rule("rb", segment_clause("y", "c"))], "c": []}
    )

    validate_segment(segment, context)
