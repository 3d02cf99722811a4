"""Rule instructions: add, remove, reorder, clauses and their values, rollout and description."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from flagward.domain.audit import AuditAction
from flagward.domain.segments import Segment
from tests.unit.domain.segments.factories import (
    apply,
    make_clause,
    make_context,
    make_rule,
    make_segment,
    rejected,
    segment_clause,
)

EMAIL = {"attribute": "email", "op": "endsWith", "values": [".edu"], "negate": False}


def segment_with_rules() -> Segment:
    """Rule r1 with clauses c1 (email) and c2 (country in [FR]); rule r2 with clause c1."""
    country = make_clause("c2", attribute="country", op="in", values=["FR"])
    return make_segment(rules=[make_rule("r1", make_clause("c1"), country), make_rule("r2")])


def is_uuid(value: str) -> bool:
    return str(uuid.UUID(value)) == value


# addRule


def test_add_rule_appends_a_rule_with_new_ids() -> None:
    change = apply(make_segment(), {"kind": "addRule", "clauses": [{**EMAIL, "_id": "mine"}]})

    [rule] = change.segment.rules
    assert is_uuid(rule["_id"])
    [clause] = rule["clauses"]
    assert is_uuid(clause["_id"])  # a client-chosen clause id could collide; instructions never keep one
    assert {k: v for k, v in clause.items() if k != "_id"} == EMAIL
    assert set(rule) == {"_id", "clauses"}
    assert change.actions == [AuditAction.UPDATE_SEGMENT_RULES]
    assert change.targeting_changed


def test_add_rule_sets_rollout_and_description() -> None:
    change = apply(
        make_segment(),
        {
            "kind": "addRule",
            "clauses": [EMAIL],
            "rolloutWeight": 25_000,
            "rolloutBucketBy": "email",
            "rolloutContextKind": "org",
            "description": "Students",
        },
    )

    [rule] = change.segment.rules
    assert rule["weight"] == 25_000
    assert rule["bucketBy"] == "email"
    assert rule["rolloutContextKind"] == "org"
    assert rule["description"] == "Students"


@pytest.mark.parametrize("weight", [0, 100_000, "40000"])
def test_add_rule_accepts_weight_as_an_alias(weight: object) -> None:
    change = apply(make_segment(), {"kind": "addRule", "clauses": [EMAIL], "weight": weight})

    assert change.segment.rules[0]["weight"] == int(weight)  # type: ignore[call-overload]


def test_add_rule_without_clauses_or_with_null_options() -> None:
    change = apply(
        make_segment(), {"kind": "addRule", "rolloutWeight": None, "description": None, "beforeRuleId": None}
    )

    assert change.segment.rules[0]["clauses"] == []
    assert set(change.segment.rules[0]) == {"_id", "clauses"}


def test_add_rule_before_another_rule() -> None:
    change = apply(segment_with_rules(), {"kind": "addRule", "clauses": [EMAIL], "beforeRuleId": "r2"})

    assert [r["_id"] for r in change.segment.rules][0::2] == ["r1", "r2"]
    assert change.segment.rules[1]["clauses"][0]["attribute"] == "email"


def test_add_rule_may_reference_existing_segments() -> None:
    context = make_context({"staff": []})

    change = apply(make_segment(), {"kind": "addRule", "clauses": [segment_clause("x", "staff")]}, context=context)

    assert change.segment.rules[0]["clauses"][0]["values"] == ["staff"]


@pytest.mark.parametrize(
    ("params", "reason"),
    [
        ({"clauses": "no"}, "clauses must be a list"),
        ({"clauses": [{**EMAIL, "op": "like"}]}, "clauses[0].op 'like' is not a known operator"),
        ({"clauses": [EMAIL, {**EMAIL, "values": "x"}]}, "clauses[1].values must be a list"),
        ({"clauses": [EMAIL], "rolloutWeight": -1}, "rolloutWeight must be an integer from 0 to 100000"),
        ({"clauses": [EMAIL], "rolloutWeight": 100_001}, "from 0 to 100000"),
        ({"clauses": [EMAIL], "rolloutWeight": True}, "from 0 to 100000"),
        ({"clauses": [EMAIL], "weight": 1.5}, "from 0 to 100000"),
        ({"clauses": [EMAIL], "weight": "half"}, "from 0 to 100000"),
        ({"clauses": [EMAIL], "weight": "500\n"}, "from 0 to 100000"),
        ({"clauses": [EMAIL], "weight": 1, "rolloutWeight": 1}, "give only one of rolloutWeight or weight"),
        ({"clauses": [EMAIL], "rolloutBucketBy": ""}, "rolloutBucketBy must be a non-empty string"),
        ({"clauses": [EMAIL], "rolloutContextKind": "a b"}, "rolloutContextKind must be a context kind"),
        ({"clauses": [EMAIL], "description": 7}, "description must be a string"),
        ({"clauses": [EMAIL], "beforeRuleId": "nope"}, "beforeRuleId 'nope' is not a rule of this segment"),
        ({"clauses": [segment_clause("x", "ghost")]}, "segmentMatch names segment 'ghost', which does not exist"),
        ({"clauses": [segment_clause("x", "beta")]}, "cycle: beta → beta"),
        ({"clauses": [{**EMAIL, "op": "segmentMatch", "values": [1]}]}, "must be segment keys"),
    ],
)
def test_add_rule_errors(params: dict[str, Any], reason: str) -> None:
    error = rejected(segment_with_rules(), {"kind": "addRule", **params})

    assert (error.index, error.kind) == (0, "addRule")
    assert reason in error.reason


def test_segment_match_cycles_through_other_segments_are_refused() -> None:
    context = make_context(
        {"a": [make_rule("ra", segment_clause("x", "b"))], "b": [make_rule("rb", segment_clause("y", "beta"))]}
    )

    error = rejected(make_segment(), {"kind": "addRule", "clauses": [segment_clause("z", "a")]}, context=context)

    assert "cycle: beta → a → b → beta" in error.reason


def test_a_cycle_among_other_segments_does_not_loop_and_is_not_this_segments_concern() -> None:
    context = make_context(
        {"a": [make_rule("ra", segment_clause("x", "b"))], "b": [make_rule("rb", segment_clause("y", "a"))]}
    )

    change = apply(make_segment(), {"kind": "addRule", "clauses": [segment_clause("z", "a")]}, context=context)

    assert change.changed


# removeRule


def test_remove_rule() -> None:
    change = apply(segment_with_rules(), {"kind": "removeRule", "ruleId": "r1"})

    assert [r["_id"] for r in change.segment.rules] == ["r2"]
    assert change.actions == [AuditAction.UPDATE_SEGMENT_RULES]


def test_removing_a_missing_rule_is_a_no_op() -> None:
    assert not apply(segment_with_rules(), {"kind": "removeRule", "ruleId": "gone"}).changed


@pytest.mark.parametrize("params", [{}, {"ruleId": 3}, {"ruleId": ""}])
def test_remove_rule_needs_a_rule_id(params: dict[str, Any]) -> None:
    assert "ruleId" in rejected(segment_with_rules(), {"kind": "removeRule", **params}).reason


# reorderRules


def test_reorder_rules() -> None:
    change = apply(segment_with_rules(), {"kind": "reorderRules", "ruleIds": ["r2", "r1"]})

    assert [r["_id"] for r in change.segment.rules] == ["r2", "r1"]
    assert change.actions == [AuditAction.UPDATE_SEGMENT_RULES]


def test_reordering_into_the_current_order_is_a_no_op() -> None:
    assert not apply(segment_with_rules(), {"kind": "reorderRules", "ruleIds": ["r1", "r2"]}).changed


@pytest.mark.parametrize(
    "rule_ids", [["r1"], ["r1", "r2", "r3"], ["r1", "r1"], ["r1", "r3"], [], "r1,r2", [["r1"], "r2"], None]
)
def test_reorder_rules_must_name_exactly_the_current_rules(rule_ids: object) -> None:
    error = rejected(segment_with_rules(), {"kind": "reorderRules", "ruleIds": rule_ids})

    assert "ruleIds" in error.reason


# addClauses / removeClauses / updateClause


def test_add_clauses() -> None:
    change = apply(segment_with_rules(), {"kind": "addClauses", "ruleId": "r2", "clauses": [EMAIL, EMAIL]})

    clauses = change.segment.rules[1]["clauses"]
    assert len(clauses) == 3
    assert len({c["_id"] for c in clauses}) == 3
    assert change.actions == [AuditAction.UPDATE_SEGMENT_RULES]


def test_adding_no_clauses_is_a_no_op() -> None:
    assert not apply(segment_with_rules(), {"kind": "addClauses", "ruleId": "r1", "clauses": []}).changed


@pytest.mark.parametrize(
    ("params", "reason"),
    [
        ({"ruleId": "r9", "clauses": [EMAIL]}, "ruleId 'r9' is not a rule of this segment"),
        ({"clauses": [EMAIL]}, "ruleId is required"),
        ({"ruleId": "r1"}, "clauses is required"),
        ({"ruleId": "r1", "clauses": [{"op": "in", "values": []}]}, "clauses[0].attribute is required"),
        ({"ruleId": "r1", "clauses": [segment_clause("s", "ghost")]}, "'ghost', which does not exist"),
    ],
)
def test_add_clauses_errors(params: dict[str, Any], reason: str) -> None:
    assert reason in rejected(segment_with_rules(), {"kind": "addClauses", **params}).reason


def test_remove_clauses() -> None:
    change = apply(segment_with_rules(), {"kind": "removeClauses", "ruleId": "r1", "clauseIds": ["c1", "zz"]})

    assert [c["_id"] for c in change.segment.rules[0]["clauses"]] == ["c2"]


def test_removing_missing_clauses_is_a_no_op() -> None:
    assert not apply(segment_with_rules(), {"kind": "removeClauses", "ruleId": "r1", "clauseIds": ["zz"]}).changed


@pytest.mark.parametrize(
    ("params", "reason"),
    [
        ({"ruleId": "r9", "clauseIds": ["c1"]}, "ruleId 'r9' is not a rule"),
        ({"ruleId": "r1", "clauseIds": "c1"}, "clauseIds must be a list"),
        ({"ruleId": "r1", "clauseIds": [1]}, "clauseIds must be a list of non-empty strings"),
    ],
)
def test_remove_clauses_errors(params: dict[str, Any], reason: str) -> None:
    assert reason in rejected(segment_with_rules(), {"kind": "removeClauses", **params}).reason


def test_update_clause_replaces_it_under_the_same_id() -> None:
    new = {"contextKind": "org", "attribute": "tier", "op": "in", "values": ["gold"], "negate": True}

    change = apply(segment_with_rules(), {"kind": "updateClause", "ruleId": "r1", "clauseId": "c2", "clause": new})

    assert change.segment.rules[0]["clauses"][1] == {"_id": "c2", **new}
    assert change.segment.rules[0]["clauses"][0]["_id"] == "c1"


def test_updating_a_clause_to_itself_is_a_no_op() -> None:
    same = {"attribute": "email", "op": "endsWith", "values": [".edu"], "negate": False}

    change = apply(segment_with_rules(), {"kind": "updateClause", "ruleId": "r1", "clauseId": "c1", "clause": same})

    assert not change.changed


@pytest.mark.parametrize(
    ("params", "reason"),
    [
        ({"ruleId": "r1", "clauseId": "c9", "clause": EMAIL}, "clauseId 'c9' is not a clause of rule 'r1'"),
        ({"ruleId": "r9", "clauseId": "c1", "clause": EMAIL}, "ruleId 'r9' is not a rule"),
        ({"ruleId": "r1", "clauseId": "c1"}, "clause is required"),
        ({"ruleId": "r1", "clauseId": "c1", "clause": {**EMAIL, "negate": "no"}}, "clause.negate must be a boolean"),
        ({"ruleId": "r1", "clauseId": "c1", "clause": segment_clause("s", "beta")}, "cycle: beta → beta"),
    ],
)
def test_update_clause_errors(params: dict[str, Any], reason: str) -> None:
    assert reason in rejected(segment_with_rules(), {"kind": "updateClause", **params}).reason


# addValuesToClause / removeValuesFromClause


def test_add_values_to_clause_appends_the_new_ones() -> None:
    change = apply(
        segment_with_rules(), {"kind": "addValuesToClause", "ruleId": "r1", "clauseId": "c2", "values": ["DE", "FR"]}
    )

    assert change.segment.rules[0]["clauses"][1]["values"] == ["FR", "DE"]
    assert change.actions == [AuditAction.UPDATE_SEGMENT_RULES]


def test_adding_present_values_is_a_no_op_and_json_types_count() -> None:
    segment = make_segment(rules=[make_rule("r1", make_clause("c1", op="in", values=[1, "a"]))])

    assert not apply(
        segment, {"kind": "addValuesToClause", "ruleId": "r1", "clauseId": "c1", "values": ["a", 1]}
    ).changed
    change = apply(segment, {"kind": "addValuesToClause", "ruleId": "r1", "clauseId": "c1", "values": [True]})
    assert change.segment.rules[0]["clauses"][0]["values"] == [1, "a", True]


def test_remove_values_from_clause() -> None:
    change = apply(
        segment_with_rules(),
        {"kind": "removeValuesFromClause", "ruleId": "r1", "clauseId": "c2", "values": ["FR", "XX"]},
    )

    assert change.segment.rules[0]["clauses"][1]["values"] == []


def test_removing_absent_values_is_a_no_op() -> None:
    instruction = {"kind": "removeValuesFromClause", "ruleId": "r1", "clauseId": "c2", "values": ["XX"]}

    assert not apply(segment_with_rules(), instruction).changed


@pytest.mark.parametrize("kind", ["addValuesToClause", "removeValuesFromClause"])
@pytest.mark.parametrize(
    ("params", "reason"),
    [
        ({"ruleId": "r1", "clauseId": "c9", "values": ["x"]}, "clauseId 'c9' is not a clause"),
        ({"ruleId": "r9", "clauseId": "c1", "values": ["x"]}, "ruleId 'r9' is not a rule"),
        ({"ruleId": "r1", "clauseId": "c1"}, "values is required"),
        ({"ruleId": "r1", "clauseId": "c1", "values": "x"}, "values must be a list"),
    ],
)
def test_clause_value_errors(kind: str, params: dict[str, Any], reason: str) -> None:
    assert reason in rejected(segment_with_rules(), {"kind": kind, **params}).reason


@pytest.mark.parametrize(
    ("values", "reason"), [([7], "must be segment keys"), (["ghost"], "'ghost', which does not exist")]
)
def test_values_added_to_a_segment_match_clause_must_be_existing_segment_keys(values: list[Any], reason: str) -> None:
    segment = make_segment(rules=[make_rule("r1", segment_clause("c1", "staff"))])
    instruction = {"kind": "addValuesToClause", "ruleId": "r1", "clauseId": "c1", "values": values}

    assert reason in rejected(segment, instruction, context=make_context({"staff": []})).reason


# updateRuleRolloutAndContextKind / updateRuleDescription


def test_update_rule_rollout() -> None:
    instruction = {
        "kind": "updateRuleRolloutAndContextKind",
        "ruleId": "r2",
        "rolloutWeight": 30_000,
        "rolloutBucketBy": "email",
        "rolloutContextKind": "org",
    }

    change = apply(segment_with_rules(), instruction)

    rule = change.segment.rules[1]
    assert (rule["weight"], rule["bucketBy"], rule["rolloutContextKind"]) == (30_000, "email", "org")
    assert change.actions == [AuditAction.UPDATE_SEGMENT_RULES]


def test_update_rule_rollout_takes_launchdarklys_documented_spelling() -> None:
    instruction = {
        "kind": "updateRuleRolloutAndContextKind",
        "ruleId": "r1",
        "weight": "20000",
        "contextKind": "device",
    }

    rule = apply(segment_with_rules(), instruction).segment.rules[0]

    assert (rule["weight"], rule["rolloutContextKind"]) == (20_000, "device")


def test_update_rule_rollout_leaves_missing_fields_and_clears_null_ones() -> None:
    segment = make_segment(rules=[make_rule("r1", weight=10, bucketBy="email", rolloutContextKind="org")])

    rule = apply(
        segment, {"kind": "updateRuleRolloutAndContextKind", "ruleId": "r1", "rolloutWeight": None}
    ).segment.rules[0]

    assert "weight" not in rule
    assert (rule["bucketBy"], rule["rolloutContextKind"]) == ("email", "org")


def test_update_rule_rollout_to_the_same_values_is_a_no_op() -> None:
    segment = make_segment(rules=[make_rule("r1", weight=10)])
    instruction = {"kind": "updateRuleRolloutAndContextKind", "ruleId": "r1", "rolloutWeight": 10}

    assert not apply(segment, instruction).changed


@pytest.mark.parametrize(
    ("params", "reason"),
    [
        ({"ruleId": "r9", "rolloutWeight": 1}, "ruleId 'r9' is not a rule"),
        ({"ruleId": "r1", "rolloutWeight": 100_001}, "from 0 to 100000"),
        ({"ruleId": "r1", "weight": False}, "from 0 to 100000"),
        ({"ruleId": "r1", "contextKind": "multi"}, "rolloutContextKind must be a context kind"),
        ({"ruleId": "r1", "contextKind": "org", "rolloutContextKind": "org"}, "give only one of"),
        ({"ruleId": "r1", "rolloutBucketBy": 5}, "rolloutBucketBy must be a non-empty string"),
    ],
)
def test_update_rule_rollout_errors(params: dict[str, Any], reason: str) -> None:
    assert reason in rejected(segment_with_rules(), {"kind": "updateRuleRolloutAndContextKind", **params}).reason


def test_update_rule_description() -> None:
    change = apply(segment_with_rules(), {"kind": "updateRuleDescription", "ruleId": "r1", "description": "Edu"})

    assert change.segment.rules[0]["description"] == "Edu"
    assert change.actions == [AuditAction.UPDATE_SEGMENT_RULES]


@pytest.mark.parametrize("empty", ["", None])
def test_an_empty_rule_description_removes_it(empty: str | None) -> None:
    segment = make_segment(rules=[make_rule("r1", description="Edu")])

    rule = apply(segment, {"kind": "updateRuleDescription", "ruleId": "r1", "description": empty}).segment.rules[0]

    assert "description" not in rule


def test_setting_the_same_rule_description_is_a_no_op() -> None:
    segment = make_segment(rules=[make_rule("r1", description="Edu")])

    assert not apply(segment, {"kind": "updateRuleDescription", "ruleId": "r1", "description": "Edu"}).changed


@pytest.mark.parametrize(
    ("params", "reason"),
    [
        ({"ruleId": "r1"}, "description is required"),
        ({"ruleId": "r1", "description": ["x"]}, "description must be a string"),
        ({"ruleId": "nope", "description": "x"}, "ruleId 'nope' is not a rule"),
    ],
)
def test_update_rule_description_errors(params: dict[str, Any], reason: str) -> None:
    assert reason in rejected(segment_with_rules(), {"kind": "updateRuleDescription", **params}).reason
