"""Name, description and tags; unknown instructions; all-or-nothing application."""

from __future__ import annotations

from typing import Any

import pytest

from flagward.domain.audit import AuditAction
from flagward.domain.segment_changes import SEGMENT_INSTRUCTION_KINDS
from tests.unit.domain.segments.factories import apply, make_segment, rejected


def test_update_name() -> None:
    change = apply(make_segment(), {"kind": "updateName", "value": "Students"})

    assert change.segment.name == "Students"
    assert change.actions == [AuditAction.UPDATE_NAME]
    assert change.changed
    assert not change.targeting_changed


def test_update_name_to_the_same_name_is_a_no_op() -> None:
    assert not apply(make_segment(), {"kind": "updateName", "value": "Beta users"}).changed


@pytest.mark.parametrize("value", [None, "", "   ", 4])
def test_update_name_needs_a_non_empty_name(value: object) -> None:
    assert "value must be a non-empty name" in rejected(make_segment(), {"kind": "updateName", "value": value}).reason


def test_update_description() -> None:
    change = apply(make_segment(), {"kind": "updateDescription", "value": "For the beta"})

    assert change.segment.description == "For the beta"
    assert change.actions == [AuditAction.UPDATE_DESCRIPTION]
    assert not change.targeting_changed


@pytest.mark.parametrize("value", [None, ""])
def test_clearing_the_description(value: str | None) -> None:
    change = apply(make_segment(description="old"), {"kind": "updateDescription", "value": value})

    assert change.segment.description == ""


def test_update_description_to_the_same_text_is_a_no_op() -> None:
    assert not apply(make_segment(description="d"), {"kind": "updateDescription", "value": "d"}).changed


@pytest.mark.parametrize(
    ("params", "reason"), [({"value": 3}, "value must be a string"), ({"description": "x"}, "value is required")]
)
def test_update_description_needs_a_string_value(params: dict[str, Any], reason: str) -> None:
    assert reason in rejected(make_segment(), {"kind": "updateDescription", **params}).reason


def test_add_tags_appends_new_tags_once() -> None:
    change = apply(make_segment(tags=["a"]), {"kind": "addTags", "values": ["b", "a", "b"]})

    assert change.segment.tags == ["a", "b"]
    assert change.actions == [AuditAction.UPDATE_TAGS]
    assert not change.targeting_changed


def test_remove_tags() -> None:
    change = apply(make_segment(tags=["a", "b", "c"]), {"kind": "removeTags", "values": ["b", "z"]})

    assert change.segment.tags == ["a", "c"]


@pytest.mark.parametrize("instruction", [{"kind": "addTags", "values": ["a"]}, {"kind": "removeTags", "values": ["z"]}])
def test_satisfied_tag_instructions_are_no_ops(instruction: dict[str, Any]) -> None:
    assert not apply(make_segment(tags=["a"]), instruction).changed


@pytest.mark.parametrize("kind", ["addTags", "removeTags"])
@pytest.mark.parametrize(("values", "reason"), [(None, "values is required"), (["ok", ""], "non-empty strings")])
def test_tag_instructions_need_a_list_of_tags(kind: str, values: object, reason: str) -> None:
    assert reason in rejected(make_segment(), {"kind": kind, "values": values}).reason


@pytest.mark.parametrize(
    ("instruction", "kind", "reason"),
    [
        ("addTags", "", "an instruction must be an object with a kind"),
        ({"values": ["x"]}, "", "kind is required"),
        ({"kind": 5}, "", "kind is required"),
        ({"kind": "turnFlagOn"}, "turnFlagOn", "unknown instruction kind"),
        ({"kind": "addBigSegmentIncludedTargets", "values": ["k"]}, "addBigSegmentIncludedTargets", "big segments"),
    ],
)
def test_malformed_and_unknown_instructions(instruction: Any, kind: str, reason: str) -> None:
    error = rejected(make_segment(), instruction)

    assert (error.index, error.kind) == (0, kind)
    assert reason in error.reason
    assert error.message == f"instruction 0 ({kind}): {error.reason}"


def test_every_documented_instruction_kind_is_handled() -> None:
    assert {
        "addIncludedTargets",
        "removeIncludedTargets",
        "addExcludedTargets",
        "removeExcludedTargets",
        "addIncludedUsers",
        "removeIncludedUsers",
        "addExcludedUsers",
        "removeExcludedUsers",
        "addRule",
        "removeRule",
        "reorderRules",
        "addClauses",
        "removeClauses",
        "updateClause",
        "addValuesToClause",
        "removeValuesFromClause",
        "updateRuleRolloutAndContextKind",
        "updateRuleDescription",
        "updateName",
        "updateDescription",
        "addTags",
        "removeTags",
    } == SEGMENT_INSTRUCTION_KINDS


def test_no_instructions_change_nothing() -> None:
    change = apply(make_segment())

    assert not change.changed
    assert change.segment == make_segment()


def test_a_failing_instruction_applies_none_of_them_and_is_named_by_index() -> None:
    segment = make_segment(included=["u1"], tags=["t"])

    error = rejected(
        segment,
        {"kind": "updateName", "value": "Renamed"},
        {"kind": "addExcludedUsers", "values": ["u2"]},
        {"kind": "addRule", "clauses": []},
        {"kind": "removeRule", "ruleId": 42},
    )

    assert (error.index, error.kind) == (3, "removeRule")


def test_later_instructions_see_the_effect_of_earlier_ones() -> None:
    error = rejected(
        make_segment(),
        {"kind": "addIncludedUsers", "values": ["u1"]},
        {"kind": "addExcludedUsers", "values": ["u1"]},
    )

    assert error.index == 1
    assert "'u1' already included" in error.reason


def test_actions_come_in_a_fixed_order_whatever_the_instruction_order() -> None:
    change = apply(
        make_segment(),
        {"kind": "addRule", "clauses": []},
        {"kind": "addExcludedUsers", "values": ["x"]},
        {"kind": "addIncludedTargets", "contextKind": "org", "values": ["o"]},
        {"kind": "addTags", "values": ["t"]},
        {"kind": "updateDescription", "value": "d"},
        {"kind": "updateName", "value": "n"},
    )

    assert change.actions == [
        "updateName",
        "updateDescription",
        "updateTags",
        "updateIncluded",
        "updateExcluded",
        "updateRules",
    ]


def test_version_and_last_modified_are_left_to_the_service() -> None:
    segment = make_segment()

    change = apply(segment, {"kind": "updateName", "value": "n"}, {"kind": "addIncludedUsers", "values": ["u"]})

    assert (change.segment.version, change.segment.last_modified) == (segment.version, segment.last_modified)
