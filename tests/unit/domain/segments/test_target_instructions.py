"""Individual targets: included/excluded keys per context kind, and the legacy user-only forms."""

from __future__ import annotations

import pytest

from flagward.domain.audit import AuditAction
from tests.unit.domain.segments.factories import apply, make_segment, rejected

ORG = "org"


@pytest.mark.parametrize(
    ("kind", "field", "action"),
    [
        ("addIncludedTargets", "included", AuditAction.UPDATE_SEGMENT_TARGETS),
        ("addExcludedTargets", "excluded", AuditAction.UPDATE_SEGMENT_EXCLUDED),
    ],
)
def test_user_kind_targets_live_in_included_and_excluded(kind: str, field: str, action: str) -> None:
    change = apply(make_segment(), {"kind": kind, "contextKind": "user", "values": ["u1", "u2"]})

    assert getattr(change.segment, field) == ["u1", "u2"]
    assert change.segment.included_contexts == change.segment.excluded_contexts == []
    assert change.actions == [action]
    assert change.targeting_changed


def test_other_kinds_live_in_the_contexts_lists() -> None:
    change = apply(
        make_segment(),
        {"kind": "addIncludedTargets", "contextKind": ORG, "values": ["o1"]},
        {"kind": "addExcludedTargets", "contextKind": "device", "values": ["d1"]},
    )

    assert change.segment.included_contexts == [{"contextKind": ORG, "values": ["o1"]}]
    assert change.segment.excluded_contexts == [{"contextKind": "device", "values": ["d1"]}]
    assert change.segment.included == change.segment.excluded == []
    assert change.actions == [AuditAction.UPDATE_SEGMENT_TARGETS, AuditAction.UPDATE_SEGMENT_EXCLUDED]


def test_adding_appends_new_keys_to_the_existing_entry_without_duplicates() -> None:
    segment = make_segment(included_contexts=[{"contextKind": ORG, "values": ["o1"]}])

    change = apply(segment, {"kind": "addIncludedTargets", "contextKind": ORG, "values": ["o2", "o1", "o2"]})

    assert change.segment.included_contexts == [{"contextKind": ORG, "values": ["o1", "o2"]}]


def test_context_kind_defaults_to_user() -> None:
    change = apply(make_segment(), {"kind": "addIncludedTargets", "values": ["u1"]})

    assert change.segment.included == ["u1"]


@pytest.mark.parametrize(
    "instruction",
    [
        {"kind": "addIncludedTargets", "contextKind": ORG, "values": ["o1"]},
        {"kind": "addIncludedUsers", "values": ["u1"]},
        {"kind": "addExcludedUsers", "values": ["u2"]},
        {"kind": "removeIncludedTargets", "contextKind": ORG, "values": ["missing"]},
        {"kind": "removeExcludedTargets", "contextKind": "device", "values": ["o1"]},
        {"kind": "removeIncludedUsers", "values": ["u9"]},
        {"kind": "removeExcludedUsers", "values": ["u1"]},
        {"kind": "addIncludedUsers", "values": []},
    ],
)
def test_already_satisfied_target_instructions_change_nothing(instruction: dict[str, object]) -> None:
    segment = make_segment(included=["u1"], excluded=["u2"], included_contexts=[{"contextKind": ORG, "values": ["o1"]}])

    change = apply(segment, instruction)

    assert not change.changed
    assert not change.targeting_changed
    assert change.actions == []


@pytest.mark.parametrize(
    ("kind", "field"),
    [
        ("addIncludedUsers", "included"),
        ("addExcludedUsers", "excluded"),
    ],
)
def test_user_instructions_ignore_any_context_kind(kind: str, field: str) -> None:
    change = apply(make_segment(), {"kind": kind, "contextKind": ORG, "values": ["u1"]})

    assert getattr(change.segment, field) == ["u1"]
    assert change.segment.included_contexts == change.segment.excluded_contexts == []


@pytest.mark.parametrize(
    ("kind", "field"),
    [
        ("removeIncludedUsers", "included"),
        ("removeExcludedUsers", "excluded"),
    ],
)
def test_removing_user_keys_keeps_the_others_in_order(kind: str, field: str) -> None:
    keys = ["a", "b", "c"]
    segment = make_segment(included=keys) if field == "included" else make_segment(excluded=keys)

    change = apply(segment, {"kind": kind, "values": ["b", "zz"]})

    assert getattr(change.segment, field) == ["a", "c"]


def test_removing_the_last_key_of_a_kind_drops_its_entry() -> None:
    segment = make_segment(
        excluded_contexts=[{"contextKind": ORG, "values": ["o1"]}, {"contextKind": "device", "values": ["d"]}]
    )

    change = apply(segment, {"kind": "removeExcludedTargets", "contextKind": ORG, "values": ["o1"]})

    assert change.segment.excluded_contexts == [{"contextKind": "device", "values": ["d"]}]
    assert change.actions == [AuditAction.UPDATE_SEGMENT_EXCLUDED]


def test_add_then_remove_gives_back_the_same_segment() -> None:
    change = apply(
        make_segment(),
        {"kind": "addIncludedTargets", "contextKind": ORG, "values": ["o1"]},
        {"kind": "removeIncludedTargets", "contextKind": ORG, "values": ["o1"]},
    )

    assert not change.changed


@pytest.mark.parametrize(
    ("instruction", "clash"),
    [
        ({"kind": "addIncludedUsers", "values": ["ok", "u2"]}, "'u2' already excluded for context kind 'user'"),
        ({"kind": "addExcludedUsers", "values": ["u1"]}, "'u1' already included for context kind 'user'"),
        (
            {"kind": "addExcludedTargets", "contextKind": ORG, "values": ["o1", "o2"]},
            "'o1' already included for context kind 'org'",
        ),
        (
            {"kind": "addIncludedTargets", "contextKind": "user", "values": ["u2"]},
            "'u2' already excluded for context kind 'user'",
        ),
    ],
)
def test_a_key_cannot_be_both_included_and_excluded(instruction: dict[str, object], clash: str) -> None:
    segment = make_segment(included=["u1"], excluded=["u2"], included_contexts=[{"contextKind": ORG, "values": ["o1"]}])

    error = rejected(segment, instruction)

    assert error.index == 0
    assert error.kind == instruction["kind"]
    assert clash in error.reason


def test_the_same_key_may_be_included_for_one_kind_and_excluded_for_another() -> None:
    segment = make_segment(included=["k"])

    change = apply(segment, {"kind": "addExcludedTargets", "contextKind": ORG, "values": ["k"]})

    assert change.segment.excluded_contexts == [{"contextKind": ORG, "values": ["k"]}]


@pytest.mark.parametrize(
    ("instruction", "reason"),
    [
        ({"kind": "addIncludedTargets", "contextKind": ORG}, "values is required"),
        ({"kind": "addIncludedTargets", "contextKind": ORG, "values": "o1"}, "values must be a list"),
        ({"kind": "addIncludedUsers", "values": [1]}, "values must be a list of non-empty strings"),
        ({"kind": "removeExcludedUsers", "values": [""]}, "values must be a list of non-empty strings"),
        ({"kind": "addIncludedTargets", "contextKind": "", "values": ["k"]}, "contextKind must be a context kind"),
        ({"kind": "addIncludedTargets", "contextKind": "kind", "values": ["k"]}, "not 'kind' or 'multi'"),
        ({"kind": "removeIncludedTargets", "contextKind": 3, "values": ["k"]}, "contextKind must be"),
        ({"kind": "addIncludedTargets", "contextKind": "org\n", "values": ["k"]}, "contextKind must be"),
        ({"kind": "addIncludedUsers", "values": [f"u{i}" for i in range(1501)]}, "at most 1500 keys"),
    ],
)
def test_malformed_target_instructions_are_refused(instruction: dict[str, object], reason: str) -> None:
    error = rejected(make_segment(), instruction)

    assert reason in error.reason
