"""Targeting rules and clauses."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from flagward.domain.flags import Flag, Rule
from tests.unit.domain.instructions.factories import apply, clause, make_flag, refusal


def add_rule(**fields: Any) -> dict[str, Any]:
    return {"kind": "addRule", "clauses": [clause()], "variationId": "flag:v0", **fields}


def rules_of(flag: Flag, env: str = "production") -> list[Rule]:
    return flag.environments[env]["rules"]


def with_rules(*descriptions: str) -> Flag:
    flag = make_flag()
    return apply(flag, *(add_rule(description=d) for d in descriptions)).flag


def test_add_rule_appends_a_rule_with_uuid_ids_and_user_clauses() -> None:
    change = apply(make_flag(), add_rule(description="gmail", trackEvents=True))
    [rule] = rules_of(change.flag)
    uuid.UUID(rule["_id"])
    uuid.UUID(rule["clauses"][0]["_id"])
    assert {k: v for k, v in rule.items() if k != "_id"} == {
        "clauses": [{**clause(), "_id": rule["clauses"][0]["_id"]}],
        "variation": 0,
        "trackEvents": True,
        "description": "gmail",
    }
    assert change.environment_actions == {"production": ["updateRules"]}


def test_a_clause_without_context_kind_targets_users() -> None:
    raw = {"attribute": "country", "op": "in", "values": ["se"]}
    rule = rules_of(apply(make_flag(), add_rule(clauses=[raw])).flag)[0]
    assert rule["clauses"][0]["contextKind"] == "user"
    assert rule["clauses"][0]["negate"] is False


def test_add_rule_with_a_rollout() -> None:
    instruction = add_rule(
        variationId=None,
        rolloutWeights={"flag:v1": 30000, "flag:v0": 70000},
        rolloutBucketBy="email",
        rolloutContextKind="org",
    )
    rule = rules_of(apply(make_flag(), instruction).flag)[0]
    assert "variation" not in rule
    assert rule["rollout"] == {
        "variations": [{"variation": 0, "weight": 70000}, {"variation": 1, "weight": 30000}],
        "contextKind": "org",
        "bucketBy": "email",
    }


def test_add_rule_before_another() -> None:
    flag = with_rules("first", "second")
    second_id = rules_of(flag)[1]["_id"]
    change = apply(flag, add_rule(description="inserted", beforeRuleId=second_id))
    assert [r.get("description") for r in rules_of(change.flag)] == ["first", "inserted", "second"]


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"beforeRuleId": "nope"}, "beforeRuleId 'nope' is not a rule of this flag in this environment"),
        ({"clauses": "x"}, "clauses must be a list of clauses"),
        ({"clauses": [clause(op="like")]}, "clauses[0].op 'like' is not a known operator"),
        ({"clauses": [clause(attribute="")]}, "clauses[0].attribute is required"),
        ({"clauses": [clause(values="a")]}, "clauses[0].values must be a list"),
        ({"clauses": [clause(negate="no")]}, "clauses[0].negate must be a boolean"),
        ({"trackEvents": "yes"}, "trackEvents must be true or false"),
        ({"description": 3}, "description must be a string"),
        ({"variationId": None}, "give either variationId or rolloutWeights (not both)"),
        ({"rolloutWeights": {"flag:v0": 100000}}, "give either variationId or rolloutWeights (not both)"),
        (
            {"variationId": None, "rolloutWeights": {"flag:v0": 50000, "flag:v1": 40000}},
            "rolloutWeights must sum to 100000 (100%), not 90000",
        ),
        (
            {"variationId": None, "rolloutWeights": {"flag:v0": 50000.0, "flag:v1": 50000}},
            "rolloutWeights['flag:v0'] must be an integer from 0 to 100000 (thousandths of a percent)",
        ),
        (
            {"variationId": None, "rolloutWeights": {"flag:v0": True, "flag:v1": 99999}},
            "rolloutWeights['flag:v0'] must be an integer from 0 to 100000 (thousandths of a percent)",
        ),
        (
            {"variationId": None, "rolloutWeights": {}},
            "rolloutWeights must be an object mapping variationIds to weights",
        ),
        ({"variationId": None, "rolloutWeights": {"nope": 100000}}, "rolloutWeights key 'nope' is not a variation"),
        (
            {"clauses": [clause(attribute="", op="segmentMatch", values=["ghost"])]},
            "clauses[0] names segment 'ghost', which does not exist in environment 'production'",
        ),
    ],
)
def test_add_rule_refuses_bad_input(fields: dict[str, Any], reason: str) -> None:
    assert refusal(make_flag(), add_rule(**fields)).reason.startswith(reason)


def test_segment_match_clauses_name_segments_of_the_environment() -> None:
    segment_clause = {"attribute": "", "op": "segmentMatch", "values": ["beta"]}
    rule = rules_of(apply(make_flag(), add_rule(clauses=[segment_clause])).flag)[0]
    assert rule["clauses"][0]["values"] == ["beta"]
    assert "contextKind" not in rule["clauses"][0]


def test_remove_rule_and_removing_a_missing_rule_is_a_no_op() -> None:
    flag = with_rules("a", "b")
    change = apply(flag, {"kind": "removeRule", "ruleId": rules_of(flag)[0]["_id"]})
    assert [r.get("description") for r in rules_of(change.flag)] == ["b"]
    assert not apply(flag, {"kind": "removeRule", "ruleId": "missing"}).changed


def test_replace_rules_and_replacing_with_the_same_rules_keeps_their_ids() -> None:
    flag = make_flag()
    instruction = {
        "kind": "replaceRules",
        "rules": [
            {"clauses": [clause()], "variationId": "flag:v1", "description": "one"},
            {"clauses": [], "rolloutWeights": {"flag:v0": 100000}, "trackEvents": True},
        ],
    }
    replaced = apply(flag, instruction).flag
    assert [r.get("variation") for r in rules_of(replaced)] == [1, None]
    assert not apply(replaced, instruction).changed
    error = refusal(flag, {"kind": "replaceRules", "rules": [{"clauses": [], "variationId": "x"}]})
    assert error.reason.startswith("rules[0].variationId 'x' is not a variation")


def test_reorder_rules_needs_exactly_the_current_rules() -> None:
    flag = with_rules("a", "b", "c")
    ids = [r["_id"] for r in rules_of(flag)]
    change = apply(flag, {"kind": "reorderRules", "ruleIds": [ids[2], ids[0], ids[1]]})
    assert [r.get("description") for r in rules_of(change.flag)] == ["c", "a", "b"]
    for wrong in ([ids[0], ids[1]], [*ids, "extra"], [ids[0], ids[0], ids[1]]):
        assert refusal(flag, {"kind": "reorderRules", "ruleIds": wrong}).reason.startswith(
            "ruleIds must list every rule of the flag exactly once"
        )


def test_clause_instructions() -> None:
    flag = with_rules("r")
    rule_id = rules_of(flag)[0]["_id"]
    clause_id = rules_of(flag)[0]["clauses"][0]["_id"]
    added = apply(flag, {"kind": "addClauses", "ruleId": rule_id, "clauses": [clause("country", "in", ["se"])]})
    assert [c["attribute"] for c in rules_of(added.flag)[0]["clauses"]] == ["email", "country"]
    removed = apply(added.flag, {"kind": "removeClauses", "ruleId": rule_id, "clauseIds": [clause_id]})
    assert [c["attribute"] for c in rules_of(removed.flag)[0]["clauses"]] == ["country"]
    updated = apply(
        flag, {"kind": "updateClause", "ruleId": rule_id, "clauseId": clause_id, "clause": clause("key", "in", ["k"])}
    )
    assert rules_of(updated.flag)[0]["clauses"] == [{**clause("key", "in", ["k"]), "_id": clause_id}]


def test_clause_values_are_added_and_removed_once() -> None:
    flag = with_rules("r")
    ids = {"ruleId": rules_of(flag)[0]["_id"], "clauseId": rules_of(flag)[0]["clauses"][0]["_id"]}
    added = apply(flag, {"kind": "addValuesToClause", **ids, "values": ["@example.com", "@x.org", 1]})
    assert rules_of(added.flag)[0]["clauses"][0]["values"] == ["@example.com", "@x.org", 1]
    removed = apply(added.flag, {"kind": "removeValuesFromClause", **ids, "values": ["@example.com", True]})
    assert rules_of(removed.flag)[0]["clauses"][0]["values"] == ["@x.org", 1]
    assert not apply(removed.flag, {"kind": "removeValuesFromClause", **ids, "values": ["absent"]}).changed


def test_unknown_rule_and_clause_ids_are_refused() -> None:
    flag = with_rules("r")
    rule_id = rules_of(flag)[0]["_id"]
    reason = refusal(flag, {"kind": "addClauses", "ruleId": "nope", "clauses": []}).reason
    assert reason == "ruleId 'nope' is not a rule of this flag in environment 'production'"
    reason = refusal(flag, {"kind": "removeClauses", "ruleId": rule_id, "clauseIds": ["nope"]}).reason
    assert reason == f"clauseIds: 'nope' is not a clause of rule '{rule_id}'"
    reason = refusal(flag, {"kind": "addValuesToClause", "ruleId": rule_id, "clauseId": "nope", "values": []}).reason
    assert reason == f"clauseId 'nope' is not a clause of rule '{rule_id}'"


def test_segment_values_added_to_a_clause_must_exist() -> None:
    flag = apply(make_flag(), add_rule(clauses=[{"op": "segmentMatch", "values": ["beta"]}])).flag
    ids = {"ruleId": rules_of(flag)[0]["_id"], "clauseId": rules_of(flag)[0]["clauses"][0]["_id"]}
    reason = refusal(flag, {"kind": "addValuesToClause", **ids, "values": ["ghost"]}).reason
    assert "segment 'ghost', which does not exist in environment 'production'" in reason


def test_rule_serve_description_and_track_events() -> None:
    flag = with_rules("r")
    rule_id = rules_of(flag)[0]["_id"]
    change = apply(
        flag,
        {"kind": "updateRuleVariationOrRollout", "ruleId": rule_id, "rolloutWeights": {"flag:v1": 100000}},
        {"kind": "updateRuleDescription", "ruleId": rule_id, "description": "new"},
        {"kind": "updateRuleTrackEvents", "ruleId": rule_id, "trackEvents": True},
    )
    rule = rules_of(change.flag)[0]
    assert "variation" not in rule
    assert rule["rollout"]["variations"] == [{"variation": 1, "weight": 100000}]
    assert (rule["description"], rule["trackEvents"]) == ("new", True)
    back = apply(change.flag, {"kind": "updateRuleVariationOrRollout", "ruleId": rule_id, "variationId": "flag:v0"})
    assert rules_of(back.flag)[0]["variation"] == 0
    assert "rollout" not in rules_of(back.flag)[0]
