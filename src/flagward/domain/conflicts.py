"""Conflicts of approval requests: instructions that would no longer apply cleanly, and instructions
that touch the same part of a configuration as another pending request.

An instruction that would change nothing (a no-op) is never a conflict.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from flagward.domain.approvals import ApprovalRequest, Conflict
from flagward.domain.errors import InvalidRequest

T = TypeVar("T")

_PARTS = {
    "turnFlagOn": "on",
    "turnFlagOff": "on",
    "updateFallthroughVariationOrRollout": "fallthrough",
    "updateOffVariation": "offVariation",
    "updateTrackEvents": "trackEvents",
    "updateTrackEventsFallthrough": "trackEventsFallthrough",
    "addRule": "rules/order",
    "replaceRules": "rules",
    "reorderRules": "rules",
    "replaceFlagConfiguration": "configuration",  # flagward's own (an import): every part of the environment's
    "replaceSegmentConfiguration": "configuration",  # flagward's own (an import): the segment's targets and rules
}
# Suffixes of instruction kinds, the more specific first: a segment's ``addIncludedTargets`` touches
# its included targets, not "targets".
_SUFFIXES = (
    ("IncludedTargets", "included"),
    ("IncludedUsers", "included"),
    ("ExcludedTargets", "excluded"),
    ("ExcludedUsers", "excluded"),
    ("Targets", "targets"),
    ("Prerequisite", "prerequisites"),
    ("Prerequisites", "prerequisites"),
)
_PART_NAMES = {
    "on": "the targeting state (on/off)",
    "targets": "the individual targets",
    "fallthrough": "the default rule",
    "offVariation": "the off variation",
    "prerequisites": "the prerequisites",
    "rules": "the rules",
    "rules/order": "the order of the rules",
    "included": "the included targets",
    "excluded": "the excluded targets",
    "configuration": "the whole configuration",
}


def instruction_part(instruction: dict[str, Any]) -> str:
    """The part of a configuration an instruction touches: on, targets, rule/<id>, rules, fallthrough,
    offVariation, prerequisites, … (project-level instructions touch flag/<kind>)."""
    kind = str(instruction.get("kind", ""))
    if kind in _PARTS:
        return _PARTS[kind]
    rule_id = instruction.get("ruleId")
    if isinstance(rule_id, str):
        return f"rule/{rule_id}"
    for suffix, part in _SUFFIXES:
        if kind.endswith(suffix):
            return part
    return f"flag/{kind}"


def parts_overlap(a: str, b: str) -> bool:
    if a == b:
        return True
    if "configuration" in (a, b):  # it replaces every part of the environment's configuration
        return not (a.startswith("flag/") or b.startswith("flag/"))
    ruleish = {a, b}
    return "rules" in ruleish and all(p == "rules" or p.startswith("rule") for p in ruleish)


def describe_part(part: str) -> str:
    if part.startswith("rule/"):
        return f"rule {part[5:]}"
    return _PART_NAMES.get(part, part)


@dataclass
class Replay(Generic[T]):
    result: T
    conflicts: list[Conflict]
    touched: list[tuple[dict[str, Any], str]]  # (instruction, part) for instructions that change something


def replay(
    subject: T,
    instructions: Iterable[dict[str, Any]],
    apply_one: Callable[[T, dict[str, Any]], tuple[T, bool]],
) -> Replay[T]:
    """Apply instructions one by one; one that fails is a conflict and is skipped."""
    conflicts: list[Conflict] = []
    touched: list[tuple[dict[str, Any], str]] = []
    current = subject
    for instruction in instructions:
        try:
            current, changed = apply_one(current, instruction)
        except InvalidRequest as exc:
            reason = getattr(exc, "reason", exc.message)
            conflicts.append(Conflict(instruction=instruction, reason=f"No longer applies cleanly: {reason}"))
            continue
        if changed:
            touched.append((instruction, instruction_part(instruction)))
    return Replay(result=current, conflicts=conflicts, touched=touched)


def overlap_conflicts(
    request: ApprovalRequest,
    touched: list[tuple[dict[str, Any], str]],
    others: dict[str, list[str]],
    descriptions: dict[str, str],
) -> list[Conflict]:
    """``others`` maps each other pending request id (same resource and environment) to the parts it
    touches."""
    conflicts: list[Conflict] = []
    for instruction, part in touched:
        for other_id, other_parts in others.items():
            if other_id == request.id:
                continue
            if any(parts_overlap(part, p) for p in other_parts):
                conflicts.append(
                    Conflict(
                        instruction=instruction,
                        reason=(
                            f"Approval request {other_id} ('{descriptions.get(other_id, '')}') also changes "
                            f"{describe_part(part)}; whichever is applied second may fail or undo the first"
                        ),
                    )
                )
                break
    return conflicts
