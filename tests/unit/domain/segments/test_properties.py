"""Properties: random instruction sequences leave a valid segment or a clean error with the input
unchanged; JSON patches equivalent to instructions give the same segment."""

from __future__ import annotations

import json
from typing import Any

import jsonpatch
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flagward.domain.errors import InstructionError
from flagward.domain.segment_changes import (
    SEGMENT_INSTRUCTION_KINDS,
    SegmentChange,
    apply_segment_instructions,
    check_segment_patch_paths,
    describe_segment_changes,
    segment_document,
    segment_from_document,
    validate_segment,
)
from flagward.domain.segments import Segment
from tests.unit.domain.segments.factories import (
    apply,
    make_clause,
    make_context,
    make_rule,
    make_segment,
    segment_clause,
)

# "staff" exists; "loop" matches this segment, so naming it makes a cycle; "ghost" does not exist.
CONTEXT = make_context({"staff": [], "loop": [make_rule("rl", segment_clause("x", "beta"))]})


def base_segments() -> list[Segment]:
    return [
        make_segment(),
        make_segment(
            included=["a"],
            excluded=["b"],
            included_contexts=[{"contextKind": "org", "values": ["a", "c"]}],
            rules=[
                make_rule("r1", make_clause("c1"), segment_clause("c2", "staff"), weight=50_000),
                make_rule("r2", make_clause("c1", op="in", values=[1, True, "x"]), description="d"),
            ],
            tags=["t"],
        ),
    ]


def params(**fields: st.SearchStrategy[Any]) -> st.SearchStrategy[dict[str, Any]]:
    """Noisy parameters: any may be missing, and values are often of the wrong kind."""
    return st.fixed_dictionaries({}, optional=fields)


def instruction_strategy(
    by_kind: dict[str, st.SearchStrategy[dict[str, Any]]],
) -> st.SearchStrategy[dict[str, Any]]:
    return st.one_of([st.builds(lambda p, k=kind: {"kind": k, **p}, strategy) for kind, strategy in by_kind.items()])


# Mostly well-formed instructions, so that sequences often succeed and reach deep states; they still
# fail on overlaps, missing rules and the like.
keys = st.sampled_from(["a", "b", "c", "d"])
kinds = st.sampled_from(["user", "org", "device"])
rule_ids = st.sampled_from(["r1", "r2"])
clause_ids = st.sampled_from(["c1", "c2"])
clause_values = st.lists(st.sampled_from(["a", "x", 1, True]), max_size=3)
clauses = st.one_of(
    st.fixed_dictionaries(
        {"attribute": st.just("email"), "op": st.sampled_from(["in", "endsWith"]), "values": clause_values},
        optional={"negate": st.booleans(), "contextKind": kinds},
    ),
    st.just({"attribute": "", "op": "segmentMatch", "values": ["staff"]}),
)
TARGETS = st.fixed_dictionaries({"contextKind": kinds, "values": st.lists(keys, max_size=3)})
RULE = st.fixed_dictionaries({"ruleId": rule_ids})
CLAUSE = st.fixed_dictionaries({"ruleId": rule_ids, "clauseId": clause_ids})
WELL_FORMED: dict[str, st.SearchStrategy[dict[str, Any]]] = {
    **{kind: TARGETS for kind in SEGMENT_INSTRUCTION_KINDS if kind.endswith(("Targets", "Users"))},
    "addRule": st.fixed_dictionaries(
        {"clauses": st.lists(clauses, max_size=2)},
        optional={"rolloutWeight": st.integers(0, 100_000), "description": st.just("d")},
    ),
    "removeRule": RULE,
    "reorderRules": st.fixed_dictionaries({"ruleIds": st.permutations(["r1", "r2"])}),
    "addClauses": RULE.map(lambda p: {**p, "clauses": [{"attribute": "k", "op": "in", "values": ["v"]}]}),
    "removeClauses": RULE.map(lambda p: {**p, "clauseIds": ["c2"]}),
    "updateClause": st.builds(lambda p, c: {**p, "clause": c}, CLAUSE, clauses),
    "addValuesToClause": st.builds(lambda p, v: {**p, "values": v}, CLAUSE, clause_values),
    "removeValuesFromClause": st.builds(lambda p, v: {**p, "values": v}, CLAUSE, clause_values),
    "updateRuleRolloutAndContextKind": st.builds(
        lambda p, w, k: {**p, "rolloutWeight": w, "rolloutContextKind": k}, RULE, st.integers(0, 100_000), kinds
    ),
    "updateRuleDescription": RULE.map(lambda p: {**p, "description": "x"}),
    "updateName": st.fixed_dictionaries({"value": st.sampled_from(["New", "Beta users"])}),
    "updateDescription": st.fixed_dictionaries({"value": st.sampled_from(["New", ""])}),
    "addTags": st.fixed_dictionaries({"values": st.lists(keys, max_size=2)}),
    "removeTags": st.fixed_dictionaries({"values": st.lists(keys, max_size=2)}),
}

# Noise: missing parameters, wrong types, unknown rules, segment references that are missing or cyclic.
any_keys = st.sampled_from(["a", "", 3])
any_kinds = st.sampled_from(["user", "org", "kind", 7, None])
any_rule_ids = st.sampled_from(["r1", "r3", None, 4])
weights = st.one_of(st.integers(-3, 100_003), st.sampled_from([True, "500", "x", 2.5, None]))
bad_clauses = st.fixed_dictionaries(
    {
        "attribute": st.sampled_from(["email", ""]),
        "op": st.sampled_from(["in", "segmentMatch", "bogus"]),
        "values": st.lists(st.sampled_from(["staff", "ghost", "loop", "beta", 1]), max_size=2),
    },
    optional={"negate": st.sampled_from([False, "no"]), "contextKind": st.sampled_from(["org", ""])},
)
NOISY: dict[str, st.SearchStrategy[dict[str, Any]]] = {
    **{
        kind: params(contextKind=any_kinds, values=st.lists(any_keys, max_size=2))
        for kind in SEGMENT_INSTRUCTION_KINDS
        if kind.endswith(("Targets", "Users"))
    },
    "addRule": params(
        clauses=st.lists(bad_clauses, max_size=2),
        beforeRuleId=any_rule_ids,
        rolloutWeight=weights,
        weight=weights,
        rolloutContextKind=any_kinds,
        rolloutBucketBy=st.sampled_from(["email", ""]),
        description=st.sampled_from(["x", 3]),
    ),
    "removeRule": params(ruleId=any_rule_ids),
    "reorderRules": params(ruleIds=st.lists(any_rule_ids, max_size=3)),
    "addClauses": params(ruleId=any_rule_ids, clauses=st.lists(bad_clauses, max_size=2)),
    "removeClauses": params(ruleId=any_rule_ids, clauseIds=st.lists(any_keys, max_size=2)),
    "updateClause": params(ruleId=any_rule_ids, clauseId=clause_ids, clause=bad_clauses),
    "addValuesToClause": params(ruleId=any_rule_ids, clauseId=clause_ids, values=st.lists(any_keys)),
    "updateRuleRolloutAndContextKind": params(
        ruleId=any_rule_ids, rolloutWeight=weights, weight=weights, contextKind=any_kinds, rolloutBucketBy=any_keys
    ),
    "updateRuleDescription": params(ruleId=any_rule_ids, description=st.sampled_from(["x", None, 1])),
    "updateName": params(value=st.sampled_from(["", None, 1])),
    "updateDescription": params(value=st.sampled_from([None, 1])),
    "addTags": params(values=st.lists(any_keys, max_size=2)),
    "bogus": params(),
}
instructions = st.integers(0, 14).flatmap(lambda n: instruction_strategy(NOISY if n == 0 else WELL_FORMED))


def as_json(segment: Segment) -> str:
    return json.dumps(segment_document(segment), sort_keys=True)


@settings(max_examples=200, deadline=None)
@given(base=st.sampled_from([0, 1, 1, 1]), batch=st.lists(instructions, max_size=6))
def test_instructions_leave_a_valid_segment_or_a_clean_error(base: int, batch: list[dict[str, Any]]) -> None:
    segment = base_segments()[base]
    before = as_json(segment)
    try:
        change = apply_segment_instructions(segment, list(batch), context=CONTEXT)
    except InstructionError as error:
        assert 0 <= error.index < len(batch)
        assert error.kind == batch[error.index]["kind"] or error.kind == ""
        assert as_json(segment) == before
        return
    assert as_json(segment) == before
    validate_segment(change.segment, CONTEXT)
    assert change.changed == (as_json(change.segment) != before)
    assert segment_from_document(segment_document(change.segment), change.segment) == change.segment


def via_json_patch(segment: Segment, ops: list[dict[str, Any]]) -> SegmentChange:
    check_segment_patch_paths(ops)
    after = segment_from_document(jsonpatch.apply_patch(segment_document(segment), ops), segment)
    validate_segment(after, CONTEXT)
    return describe_segment_changes(segment, after)


def rich() -> Segment:
    return base_segments()[1]


EQUIVALENT = [
    ([{"kind": "addIncludedUsers", "values": ["u3"]}], [{"op": "add", "path": "/included/-", "value": "u3"}]),
    (
        [{"kind": "addExcludedTargets", "contextKind": "org", "values": ["o2"]}],
        [{"op": "add", "path": "/excludedContexts/-", "value": {"contextKind": "org", "values": ["o2"]}}],
    ),
    (
        [{"kind": "removeIncludedTargets", "contextKind": "org", "values": ["a", "c"]}],
        [{"op": "remove", "path": "/includedContexts/0"}],
    ),
    (
        [{"kind": "updateName", "value": "Renamed"}, {"kind": "addTags", "values": ["new"]}],
        [{"op": "replace", "path": "/name", "value": "Renamed"}, {"op": "add", "path": "/tags/-", "value": "new"}],
    ),
    ([{"kind": "updateDescription", "value": "D"}], [{"op": "replace", "path": "/description", "value": "D"}]),
    ([{"kind": "removeRule", "ruleId": "r1"}], [{"op": "remove", "path": "/rules/0"}]),
    ([{"kind": "reorderRules", "ruleIds": ["r2", "r1"]}], [{"op": "move", "from": "/rules/1", "path": "/rules/0"}]),
    (
        [{"kind": "addValuesToClause", "ruleId": "r2", "clauseId": "c1", "values": ["y"]}],
        [{"op": "add", "path": "/rules/1/clauses/0/values/-", "value": "y"}],
    ),
    (
        [{"kind": "updateRuleRolloutAndContextKind", "ruleId": "r2", "rolloutWeight": 10, "rolloutContextKind": "org"}],
        [
            {"op": "add", "path": "/rules/1/weight", "value": 10},
            {"op": "add", "path": "/rules/1/rolloutContextKind", "value": "org"},
        ],
    ),
    (
        [{"kind": "updateRuleDescription", "ruleId": "r1", "description": "Staff"}],
        [{"op": "add", "path": "/rules/0/description", "value": "Staff"}],
    ),
]


@pytest.mark.parametrize(("batch", "ops"), EQUIVALENT)
def test_json_patch_equivalents_give_the_same_segment(batch: list[dict[str, Any]], ops: list[dict[str, Any]]) -> None:
    by_instructions = apply(rich(), *batch, context=CONTEXT)
    by_patch = via_json_patch(rich(), ops)

    assert by_patch.segment == by_instructions.segment
    assert by_patch.actions == by_instructions.actions
    assert by_patch.changed


def test_an_added_rule_matches_its_json_patch_equivalent() -> None:
    clause = {"attribute": "email", "op": "endsWith", "values": [".edu"], "negate": False}
    instruction = {"kind": "addRule", "clauses": [clause], "beforeRuleId": "r2", "rolloutWeight": 10}
    by_instructions = apply(rich(), instruction, context=CONTEXT)
    new = by_instructions.segment.rules[1]  # the patch names the ids the instruction chose
    value = {"_id": new["_id"], "clauses": [{**clause, "_id": new["clauses"][0]["_id"]}], "weight": 10}

    by_patch = via_json_patch(rich(), [{"op": "add", "path": "/rules/1", "value": value}])

    assert by_patch.segment == by_instructions.segment
    assert by_patch.actions == by_instructions.actions == ["updateRules"]
