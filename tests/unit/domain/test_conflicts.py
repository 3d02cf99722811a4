"""Conflicts of approval requests: which part of a configuration an instruction touches, which parts
overlap, replaying instructions one by one, and the conflicts between open requests."""

from __future__ import annotations

from typing import Any

import pytest

from flagward.domain import approvals as domain
from flagward.domain.approvals import ApprovalRequest, ResourceKind
from flagward.domain.conflicts import instruction_part, overlap_conflicts, parts_overlap, replay
from flagward.domain.flags import Flag
from flagward.domain.instructions import apply_flag_instructions
from tests.unit.domain.instructions.factories import NOW, clause, make_context, make_flag


@pytest.mark.parametrize(
    ("kind", "part"),
    [
        ("turnFlagOn", "on"),
        ("turnFlagOff", "on"),
        ("addTargets", "targets"),
        ("removeTargets", "targets"),
        ("replaceTargets", "targets"),
        ("clearTargets", "targets"),
        ("addUserTargets", "targets"),
        ("replaceUserTargets", "targets"),
        ("updateFallthroughVariationOrRollout", "fallthrough"),
        ("updateOffVariation", "offVariation"),
        ("addPrerequisite", "prerequisites"),
        ("updatePrerequisite", "prerequisites"),
        ("removePrerequisite", "prerequisites"),
        ("replacePrerequisites", "prerequisites"),
        ("addRule", "rules/order"),
        ("replaceRules", "rules"),
        ("reorderRules", "rules"),
        ("updateTrackEvents", "trackEvents"),
        ("addIncludedTargets", "included"),
        ("removeIncludedTargets", "included"),
        ("addIncludedUsers", "included"),
        ("addExcludedTargets", "excluded"),
        ("removeExcludedUsers", "excluded"),
        ("updateName", "flag/updateName"),
    ],
)
def test_the_part_an_instruction_touches(kind: str, part: str) -> None:
    assert instruction_part({"kind": kind}) == part


@pytest.mark.parametrize(
    "kind", ["removeRule", "updateClause", "addClauses", "updateRuleVariationOrRollout", "updateRuleDescription"]
)
def test_an_instruction_naming_a_rule_touches_that_rule(kind: str) -> None:
    assert instruction_part({"kind": kind, "ruleId": "r1"}) == "rule/r1"


@pytest.mark.parametrize(
    ("a", "b", "overlap"),
    [
        ("rule/r1", "rule/r1", True),
        ("rule/r1", "rule/r2", False),
        ("rule/r1", "rules", True),
        ("rules", "rules/order", True),
        ("rules/order", "rules/order", True),
        ("rules/order", "rule/r1", False),
        ("on", "targets", False),
        ("included", "excluded", False),
        ("flag/updateName", "flag/updateName", True),
        ("configuration", "rule/r1", True),  # an imported configuration replaces every part
        ("configuration", "on", True),
        ("configuration", "configuration", True),
        ("configuration", "flag/updateName", False),
    ],
)
def test_which_parts_overlap(a: str, b: str, overlap: bool) -> None:
    assert parts_overlap(a, b) is overlap
    assert parts_overlap(b, a) is overlap


def _step(flag: Flag, instruction: dict[str, Any]) -> tuple[Flag, bool]:
    change = apply_flag_instructions(flag, [instruction], environment_key="production", context=make_context(flag))
    return change.flag, change.changed


def _flag_with_rule() -> Flag:
    flag = make_flag()
    rule = {"kind": "addRule", "variationId": "flag:v0", "clauses": [clause()]}
    return _step(flag, rule)[0]


def test_replay_skips_what_fails_and_reports_only_what_changes() -> None:
    flag = _flag_with_rule()
    rule_id = flag.environments["production"]["rules"][0]["_id"]
    instructions = [
        {"kind": "turnFlagOff"},  # a no-op: never touched, never a conflict
        {"kind": "updateRuleDescription", "ruleId": "gone", "description": "x"},
        {"kind": "turnFlagOn"},
        {"kind": "updateRuleDescription", "ruleId": rule_id, "description": "VIPs"},
    ]
    result = replay(flag, instructions, _step)
    (conflict,) = result.conflicts
    assert conflict.instruction == instructions[1]
    assert conflict.reason.startswith("No longer applies cleanly:") and "gone" in conflict.reason
    assert result.touched == [(instructions[2], "on"), (instructions[3], f"rule/{rule_id}")]
    production = result.result.environments["production"]
    assert production["on"] is True and production["rules"][0]["description"] == "VIPs"
    assert flag.environments["production"]["on"] is False  # the subject is not modified


def _request(description: str, *instructions: dict[str, Any]) -> ApprovalRequest:
    return domain.new_request(
        project_key="proj",
        environment_key="production",
        resource_kind=ResourceKind.FLAG,
        resource_key="flag",
        creation_date=NOW,
        description=description,
        instructions=list(instructions),
        base_version=1,
    )


def test_overlap_conflicts_name_the_other_request_once_per_instruction() -> None:
    flag = _flag_with_rule()
    rule_id = flag.environments["production"]["rules"][0]["_id"]
    mine = _request("Mine", {"kind": "turnFlagOn"}, {"kind": "removeRule", "ruleId": rule_id})
    theirs = _request("Theirs", {"kind": "replaceRules", "rules": []})
    also = _request("Also", {"kind": "updateRuleDescription", "ruleId": rule_id, "description": "x"})
    touched = replay(flag, mine.instructions, _step).touched
    others = {r.id: [p for _, p in replay(flag, r.instructions, _step).touched] for r in (mine, theirs, also)}
    descriptions = {r.id: r.description for r in (mine, theirs, also)}
    (conflict,) = overlap_conflicts(mine, touched, others, descriptions)
    assert conflict.instruction == {"kind": "removeRule", "ruleId": rule_id}
    assert theirs.id in conflict.reason and "'Theirs'" in conflict.reason and rule_id in conflict.reason
    assert overlap_conflicts(mine, touched, {mine.id: others[mine.id]}, descriptions) == []


def test_a_no_op_is_no_overlap() -> None:
    flag = make_flag()
    already_off = _request("Off", {"kind": "turnFlagOff"})
    turn_on = _request("On", {"kind": "turnFlagOn"})
    touched_on = replay(flag, turn_on.instructions, _step).touched
    touched_off = replay(flag, already_off.instructions, _step).touched
    assert touched_off == []
    assert overlap_conflicts(turn_on, touched_on, {already_off.id: []}, {}) == []
    assert overlap_conflicts(already_off, touched_off, {turn_on.id: ["on"]}, {}) == []
