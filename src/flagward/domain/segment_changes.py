"""Changes to a segment: semantic-patch instructions, JSON/merge patch documents, and what changed.

Pure functions the segment services call inside their transaction. Nothing here bumps ``version`` or
``last_modified`` (the service does, once per committed change) and no input is ever mutated.

- ``apply_segment_instructions``: all or nothing; an invalid instruction raises ``InstructionError``
  (its index, kind and reason); an instruction whose effect already holds is a no-op.
- ``segment_document`` / ``segment_from_document`` / ``check_segment_patch_paths``: the JSON patch and
  merge patch path; follow ``segment_from_document`` with ``validate_segment``.
- ``describe_segment_changes``: the audit actions between two versions of a segment.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from flagward.domain.audit import AuditAction
from flagward.domain.segment_documents import (
    READ_ONLY_FIELDS,
    SEGMENT_WRITABLE_FIELDS,
    check_segment_patch_paths,
    parse_new_segment_rules,
    segment_document,
    segment_from_document,
)
from flagward.domain.segment_instructions import (
    FLAGWARD_SEGMENT_INSTRUCTIONS,
    SEGMENT_INSTRUCTION_KINDS,
    apply_instruction,
)
from flagward.domain.segment_validation import SegmentChangeContext, same_json, validate_segment
from flagward.domain.segments import Segment

__all__ = [
    "FLAGWARD_SEGMENT_INSTRUCTIONS",
    "READ_ONLY_FIELDS",
    "SEGMENT_INSTRUCTION_KINDS",
    "SEGMENT_WRITABLE_FIELDS",
    "TARGETING_ACTIONS",
    "SegmentChange",
    "SegmentChangeContext",
    "apply_segment_instructions",
    "check_segment_patch_paths",
    "describe_segment_changes",
    "parse_new_segment_rules",
    "segment_document",
    "segment_from_document",
    "validate_segment",
]

# What segment approvals gate (LaunchDarkly: included, excluded, their *Contexts, and rules).
TARGETING_ACTIONS = frozenset(
    {AuditAction.UPDATE_SEGMENT_TARGETS, AuditAction.UPDATE_SEGMENT_EXCLUDED, AuditAction.UPDATE_SEGMENT_RULES}
)


@dataclass
class SegmentChange:
    """The segment after a change (a new object) and the LaunchDarkly actions naming what changed, in
    a fixed order: name, description, tags, included, excluded, rules."""

    segment: Segment
    actions: list[str]

    @property
    def changed(self) -> bool:
        return bool(self.actions)

    @property
    def targeting_changed(self) -> bool:
        """Whether included/excluded targets (any kind) or rules changed: what segment approvals gate."""
        return any(action in TARGETING_ACTIONS for action in self.actions)


def apply_segment_instructions(
    segment: Segment, instructions: Sequence[object], *, context: SegmentChangeContext
) -> SegmentChange:
    """Apply semantic-patch ``instructions`` to a copy of ``segment``, all or nothing.

    Raises ``InstructionError(index, kind, reason)`` for the first instruction that is malformed,
    unknown, or would leave the segment invalid (a key both included and excluded, an unknown rule or
    clause, a weight outside 0..100000, a segmentMatch naming a missing segment or making a cycle).
    """
    working = segment.clone()
    for index, instruction in enumerate(instructions):
        apply_instruction(working, instruction, index, context)
    return describe_segment_changes(segment, working)


def describe_segment_changes(before: Segment, after: Segment) -> SegmentChange:
    """``after`` with the actions that turn ``before`` into it (compared as JSON, so order of keys in
    a list counts and ``1`` is not ``true``)."""
    compared = (
        (AuditAction.UPDATE_NAME, before.name, after.name),
        (AuditAction.UPDATE_DESCRIPTION, before.description, after.description),
        (AuditAction.UPDATE_TAGS, before.tags, after.tags),
        (
            AuditAction.UPDATE_SEGMENT_TARGETS,
            [before.included, before.included_contexts],
            [after.included, after.included_contexts],
        ),
        (
            AuditAction.UPDATE_SEGMENT_EXCLUDED,
            [before.excluded, before.excluded_contexts],
            [after.excluded, after.excluded_contexts],
        ),
        # The salt decides whom a weighted rule matches: changing it (an import) is a change of the rules.
        (AuditAction.UPDATE_SEGMENT_RULES, [before.rules, before.salt], [after.rules, after.salt]),
    )
    actions: list[str] = [action for action, old, new in compared if not same_json(old, new)]
    return SegmentChange(segment=after, actions=actions)
