"""What makes a segment valid: field shapes, rule weights, clauses, nested-segment references and cycles.

``validate_segment`` checks a whole segment (after a JSON or merge patch); the instruction handlers use
the narrower ``check_*`` helpers on the part they changed, so their errors name the instruction.
Everything raises ``InvalidRequest``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from flagward.domain.clauses import parse_clause, segment_keys
from flagward.domain.errors import InvalidRequest
from flagward.domain.ids import check_name_length
from flagward.domain.segments import Segment, SegmentRule, SegmentTarget

USER_KIND = "user"
MAX_WEIGHT = 100_000
# LaunchDarkly's context-kind syntax; "kind" and "multi" are reserved by the SDKs.
_CONTEXT_KIND = re.compile(r"[A-Za-z0-9._-]+")
_RESERVED_KINDS = frozenset({"kind", "multi"})


@dataclass(frozen=True)
class SegmentChangeContext:
    """What a segment change needs to know about the rest of its environment.

    ``segment_exists(key)`` answers for *other* segments of the same environment;
    ``segment_rules_of(key)`` gives another segment's rules (empty when there is none), for cycle checks.
    """

    now: int
    segment_exists: Callable[[str], bool]
    segment_rules_of: Callable[[str], list[SegmentRule]]


def same_json(a: object, b: object) -> bool:
    """Equality as JSON sees it: ``1`` and ``true`` differ, key order does not matter."""
    return json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)


def validate_segment(segment: Segment, context: SegmentChangeContext) -> None:
    """Check every rule a segment must satisfy; raise InvalidRequest naming the first violation."""
    check_name(segment.name)
    if not isinstance(segment.description, str):
        raise InvalidRequest("description must be a string")
    check_strings(segment.tags, "tags")
    check_strings(segment.included, "included")
    check_strings(segment.excluded, "excluded")
    check_context_targets(segment.included_contexts, "includedContexts")
    check_context_targets(segment.excluded_contexts, "excludedContexts")
    for kind in target_kinds(segment):
        check_no_overlap(segment, kind)
    if not isinstance(segment.rules, list):
        raise InvalidRequest("rules must be a list")
    seen: set[str] = set()
    for i, rule in enumerate(segment.rules):
        check_rule_shape(rule, f"rules[{i}]")
        if rule["_id"] in seen:
            raise InvalidRequest(f"rules[{i}]._id '{rule['_id']}' is used by another rule")
        seen.add(rule["_id"])
    check_segment_references(segment, segment.rules, context)


def check_name(name: object) -> None:
    if not isinstance(name, str) or not name.strip():
        raise InvalidRequest("name is required and must be a non-empty string")
    check_name_length(name)


def check_strings(values: object, where: str) -> list[str]:
    """``values`` if it is a list of non-empty strings (keys, tags)."""
    if not isinstance(values, list) or not all(isinstance(v, str) and v for v in values):
        raise InvalidRequest(f"{where} must be a list of non-empty strings")
    return values


def check_context_kind(value: object, where: str) -> str:
    if not isinstance(value, str) or not _CONTEXT_KIND.fullmatch(value) or value in _RESERVED_KINDS:
        raise InvalidRequest(
            f"{where} must be a context kind: letters, numbers, '.', '_' or '-', and not 'kind' or 'multi'"
        )
    return value


def check_context_targets(targets: object, where: str) -> None:
    """Non-user kinds only, one entry per kind (user keys live in ``included``/``excluded``)."""
    if not isinstance(targets, list):
        raise InvalidRequest(f"{where} must be a list")
    kinds: set[str] = set()
    for i, target in enumerate(targets):
        if not isinstance(target, dict):
            raise InvalidRequest(f"{where}[{i}] must be an object with contextKind and values")
        kind = check_context_kind(target.get("contextKind"), f"{where}[{i}].contextKind")
        if kind == USER_KIND:
            raise InvalidRequest(f"{where}[{i}]: user keys belong in {where.removesuffix('Contexts')}")
        if kind in kinds:
            raise InvalidRequest(f"{where}[{i}]: context kind '{kind}' has more than one entry")
        kinds.add(kind)
        check_strings(target.get("values"), f"{where}[{i}].values")


def target_kinds(segment: Segment) -> list[str]:
    kinds = [USER_KIND]
    for target in [*segment.included_contexts, *segment.excluded_contexts]:
        if target["contextKind"] not in kinds:
            kinds.append(target["contextKind"])
    return kinds


def target_keys(segment: Segment, side: str, kind: str) -> list[str]:
    """The keys of ``kind`` on ``side`` ("included" or "excluded"); a copy, empty if there are none."""
    if kind == USER_KIND:
        return list(segment.included if side == "included" else segment.excluded)
    entry = context_target(segment, side, kind)
    return list(entry["values"]) if entry else []


def context_target(segment: Segment, side: str, kind: str) -> SegmentTarget | None:
    targets = segment.included_contexts if side == "included" else segment.excluded_contexts
    return next((t for t in targets if t["contextKind"] == kind), None)


def check_no_overlap(segment: Segment, kind: str) -> None:
    excluded = set(target_keys(segment, "excluded", kind))
    both = [key for key in target_keys(segment, "included", kind) if key in excluded]
    if both:
        names = ", ".join(f"'{key}'" for key in both)
        raise InvalidRequest(
            f"{names} cannot be both included and excluded for context kind '{kind}'; "
            "remove it from one of the lists first"
        )


def parse_weight(value: object, where: str) -> int:
    """A rule weight: an integer from 0 to 100000 (thousandths of a percent); booleans are refused."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_WEIGHT:
        raise InvalidRequest(f"{where} must be an integer from 0 to {MAX_WEIGHT}")
    return value


def check_rule_shape(rule: object, where: str) -> None:
    """Check one stored rule: ``_id``, clauses (valid, with distinct ids), and the optional fields."""
    if not isinstance(rule, dict):
        raise InvalidRequest(f"{where} must be an object")
    if not isinstance(rule.get("_id"), str) or not rule["_id"]:
        raise InvalidRequest(f"{where}._id must be a non-empty string")
    clauses = rule.get("clauses")
    if not isinstance(clauses, list):
        raise InvalidRequest(f"{where}.clauses must be a list")
    clause_ids: set[str] = set()
    for j, clause in enumerate(clauses):
        parse_clause(clause, f"{where}.clauses[{j}]")
        clause_id = clause.get("_id")
        if not isinstance(clause_id, str) or not clause_id:
            raise InvalidRequest(f"{where}.clauses[{j}]._id must be a non-empty string")
        if clause_id in clause_ids:
            raise InvalidRequest(f"{where}.clauses[{j}]._id '{clause_id}' is used by another clause")
        clause_ids.add(clause_id)
    check_rule_options(rule, where)


def check_rule_options(rule: dict[str, Any], where: str) -> None:
    if "weight" in rule:
        parse_weight(rule["weight"], f"{where}.weight")
    if "bucketBy" in rule and (not isinstance(rule["bucketBy"], str) or not rule["bucketBy"]):
        raise InvalidRequest(f"{where}.bucketBy must be a non-empty string")
    if "rolloutContextKind" in rule:
        check_context_kind(rule["rolloutContextKind"], f"{where}.rolloutContextKind")
    if "description" in rule and not isinstance(rule["description"], str):
        raise InvalidRequest(f"{where}.description must be a string")


def check_segment_references(segment: Segment, rules: Iterable[SegmentRule], context: SegmentChangeContext) -> None:
    """segmentMatch clauses in ``rules`` (rules of ``segment``) must name existing segments of the
    environment, and following them must never lead back to ``segment``."""
    direct = _referenced(rules)
    for key in direct:
        if key != segment.key and not context.segment_exists(key):
            raise InvalidRequest(f"segmentMatch names segment '{key}', which does not exist in this environment")
    cycle = _find_cycle(segment.key, direct, context)
    if cycle:
        raise InvalidRequest("segment rules would form a cycle: " + " → ".join(cycle))


def _referenced(rules: Iterable[SegmentRule]) -> list[str]:
    keys: list[str] = []
    for rule in rules:
        for key in segment_keys(rule["clauses"]):
            if key not in keys:
                keys.append(key)
    return keys


def _find_cycle(start: str, direct: list[str], context: SegmentChangeContext) -> list[str] | None:
    """The path ``start → … → start`` through segmentMatch references, or None. Breadth-first, with a
    visited set, so a cycle among other segments cannot loop forever."""
    parent: dict[str, str] = {}
    queue: list[str] = []
    for key in direct:
        parent.setdefault(key, start)
        queue.append(key)
    while queue:
        key = queue.pop(0)
        if key == start:
            return _path(parent, start)
        for nested in _referenced(context.segment_rules_of(key)):
            if nested not in parent:
                parent[nested] = key
                queue.append(nested)
    return None


def _path(parent: dict[str, str], start: str) -> list[str]:
    path = [start]
    node = parent[start]
    while node != start:
        path.append(node)
        node = parent[node]
    path.append(start)
    return path[::-1]
