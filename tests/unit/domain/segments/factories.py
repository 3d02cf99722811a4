"""Factory functions for segment-change tests: segments, rules, clauses and a change context."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from flagward.domain.errors import InstructionError
from flagward.domain.flags import Clause
from flagward.domain.segment_changes import (
    SegmentChange,
    SegmentChangeContext,
    apply_segment_instructions,
    segment_document,
)
from flagward.domain.segments import Segment, SegmentRule, SegmentTarget


def make_clause(
    clause_id: str = "c1", *, attribute: str = "email", op: str = "endsWith", values: list[Any] | None = None
) -> Clause:
    return {
        "_id": clause_id,
        "attribute": attribute,
        "op": op,
        "values": [".edu"] if values is None else values,
        "negate": False,
    }


def segment_clause(clause_id: str, *keys: str) -> Clause:
    return make_clause(clause_id, attribute="", op="segmentMatch", values=list(keys))


def make_rule(rule_id: str = "r1", *clauses: Clause, **options: Any) -> SegmentRule:
    rule: SegmentRule = {"_id": rule_id, "clauses": list(clauses) or [make_clause()]}
    rule.update(options)  # type: ignore[typeddict-item]
    return rule


def make_segment(
    key: str = "beta",
    *,
    included: list[str] | None = None,
    excluded: list[str] | None = None,
    included_contexts: list[SegmentTarget] | None = None,
    excluded_contexts: list[SegmentTarget] | None = None,
    rules: list[SegmentRule] | None = None,
    tags: list[str] | None = None,
    description: str = "",
) -> Segment:
    return Segment(
        id="seg-id",
        project_key="proj",
        environment_key="prod",
        key=key,
        name="Beta users",
        creation_date=1_000,
        last_modified=2_000,
        salt="salty",
        description=description,
        tags=list(tags or []),
        included=list(included or []),
        excluded=list(excluded or []),
        included_contexts=list(included_contexts or []),
        excluded_contexts=list(excluded_contexts or []),
        rules=list(rules or []),
        version=3,
    )


def make_context(others: Mapping[str, list[SegmentRule]] | None = None) -> SegmentChangeContext:
    """Other segments of the environment: key → rules."""
    known = dict(others or {})
    return SegmentChangeContext(
        now=5_000,
        segment_exists=lambda key: key in known,
        segment_rules_of=lambda key: known.get(key, []),
    )


def apply(
    segment: Segment, *instructions: dict[str, Any], context: SegmentChangeContext | None = None
) -> SegmentChange:
    """Apply ``instructions`` and check the input segment was left as it was."""
    before = segment_document(segment)
    change = apply_segment_instructions(segment, list(instructions), context=context or make_context())
    assert segment_document(segment) == before
    assert change.segment is not segment
    return change


def rejected(
    segment: Segment, *instructions: dict[str, Any], context: SegmentChangeContext | None = None
) -> InstructionError:
    """Apply ``instructions`` expecting an InstructionError; check the input segment was not touched."""
    before = segment_document(segment)
    with pytest.raises(InstructionError) as caught:
        apply_segment_instructions(segment, list(instructions), context=context or make_context())
    assert segment_document(segment) == before
    return caught.value
