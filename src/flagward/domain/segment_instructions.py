"""Semantic-patch instructions for segments, one handler per ``kind``.

Handlers change a working copy in place and raise InvalidRequest; ``apply_instruction`` turns that into
an ``InstructionError`` naming the instruction. An instruction whose effect already holds changes
nothing. Parameters follow LaunchDarkly's ``patchSegment`` description; where it is loose (the
``updateRuleRolloutAndContextKind`` example sends ``weight`` and ``contextKind``, the weight as a string)
both spellings are accepted.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from flagward.domain import segment_configuration
from flagward.domain.clauses import parse_clause
from flagward.domain.errors import InstructionError, InvalidRequest
from flagward.domain.flags import Clause
from flagward.domain.ids import new_uuid
from flagward.domain.segment_validation import (
    USER_KIND,
    SegmentChangeContext,
    check_context_kind,
    check_segment_references,
    check_strings,
    context_target,
    parse_weight,
    same_json,
    target_keys,
)
from flagward.domain.segments import Segment, SegmentRule

Params = dict[str, Any]
Handler = Callable[[Segment, Params, SegmentChangeContext], None]

# LaunchDarkly refuses target instructions that touch more keys than this at once.
MAX_TARGET_BATCH = 1500
_DIGITS = re.compile(r"[0-9]{1,7}")
_BIG_SEGMENT_KINDS = frozenset(
    {
        "addBigSegmentIncludedTargets",
        "removeBigSegmentIncludedTargets",
        "addBigSegmentExcludedTargets",
        "removeBigSegmentExcludedTargets",
        "processBigSegmentImport",
    }
)


def apply_instruction(segment: Segment, raw: object, index: int, context: SegmentChangeContext) -> None:
    """Apply instruction number ``index`` to ``segment`` in place. Raises InstructionError; ``segment``
    may then be half-changed, so callers work on a copy."""
    if not isinstance(raw, dict):
        raise InstructionError(index, "", "an instruction must be an object with a kind")
    kind = raw.get("kind")
    if not isinstance(kind, str) or not kind:
        raise InstructionError(index, "", "kind is required and must be a string")
    handler = _HANDLERS.get(kind) or _OWN_HANDLERS.get(kind)
    if handler is None:
        reason = "big segments are not supported" if kind in _BIG_SEGMENT_KINDS else "unknown instruction kind"
        raise InstructionError(index, kind, reason)
    try:
        handler(segment, raw, context)
    except InvalidRequest as exc:
        raise InstructionError(index, kind, exc.message) from None


# Parameters


def _required(params: Params, name: str) -> Any:
    if params.get(name) is None:
        raise InvalidRequest(f"{name} is required")
    return params[name]


def _id(params: Params, name: str) -> str:
    value = _required(params, name)
    if not isinstance(value, str) or not value:
        raise InvalidRequest(f"{name} must be a non-empty string")
    return value


def _list(params: Params, name: str) -> list[Any]:
    value = _required(params, name)
    if not isinstance(value, list):
        raise InvalidRequest(f"{name} must be a list")
    return value


def _unique(values: list[str]) -> list[str]:
    return list(dict.fromkeys(values))


def _target_values(params: Params) -> list[str]:
    values = check_strings(_list(params, "values"), "values")
    if len(values) > MAX_TARGET_BATCH:
        raise InvalidRequest(f"values may list at most {MAX_TARGET_BATCH} keys per instruction")
    return _unique(values)


def _context_kind(params: Params) -> str:
    kind = params.get("contextKind")
    return USER_KIND if kind is None else check_context_kind(kind, "contextKind")


def _one_of(params: Params, names: tuple[str, ...]) -> tuple[bool, Any]:
    """``(given, value)`` of whichever of the alias ``names`` is present; an error if several are."""
    present = [name for name in names if name in params]
    if len(present) > 1:
        raise InvalidRequest(f"give only one of {' or '.join(present)}")
    return (True, params[present[0]]) if present else (False, None)


def _weight(value: object, where: str) -> int:
    # LaunchDarkly's own example sends the weight as a string of digits.
    if isinstance(value, str) and _DIGITS.fullmatch(value):
        value = int(value)
    return parse_weight(value, where)


def _new_clauses(raw: list[Any], where: str) -> list[Clause]:
    """Clauses from an instruction; ids are always new (a client cannot pick one that collides)."""
    return [parse_clause(item, f"{where}[{i}]", keep_id=False) for i, item in enumerate(raw)]


def _rule(segment: Segment, params: Params, name: str = "ruleId") -> SegmentRule:
    rule_id = _id(params, name)
    found = next((rule for rule in segment.rules if rule["_id"] == rule_id), None)
    if found is None:
        raise InvalidRequest(f"{name} '{rule_id}' is not a rule of this segment")
    return found


def _clause(rule: SegmentRule, params: Params) -> Clause:
    clause_id = _id(params, "clauseId")
    found = next((clause for clause in rule["clauses"] if clause["_id"] == clause_id), None)
    if found is None:
        raise InvalidRequest(f"clauseId '{clause_id}' is not a clause of rule '{rule['_id']}'")
    return found


# Individual targets


def _targets(side: str, *, add: bool, users: bool) -> Handler:
    def handle(segment: Segment, params: Params, context: SegmentChangeContext) -> None:
        kind = USER_KIND if users else _context_kind(params)
        keys = _target_values(params)
        current = target_keys(segment, side, kind)
        if add:
            _refuse_overlap(segment, side, kind, keys)
            _set_keys(segment, side, kind, _unique([*current, *keys]))
        else:
            removed = set(keys)
            _set_keys(segment, side, kind, [key for key in current if key not in removed])

    return handle


def _refuse_overlap(segment: Segment, side: str, kind: str, keys: list[str]) -> None:
    other = "excluded" if side == "included" else "included"
    present = set(target_keys(segment, other, kind))
    both = [key for key in keys if key in present]
    if both:
        names = ", ".join(f"'{key}'" for key in both)
        raise InvalidRequest(
            f"{names} already {other} for context kind '{kind}'; a key cannot be both included and "
            f"excluded (remove it from {other} first)"
        )


def _set_keys(segment: Segment, side: str, kind: str, keys: list[str]) -> None:
    """Replace the keys of ``kind`` on ``side``; a ``*Contexts`` entry left empty is dropped."""
    if kind == USER_KIND:
        if side == "included":
            segment.included = keys
        else:
            segment.excluded = keys
        return
    targets = segment.included_contexts if side == "included" else segment.excluded_contexts
    entry = context_target(segment, side, kind)
    if entry is not None and keys:
        entry["values"] = keys
    elif entry is not None:
        targets.remove(entry)
    elif keys:
        targets.append({"contextKind": kind, "values": keys})


# Rules


def _add_rule(segment: Segment, params: Params, context: SegmentChangeContext) -> None:
    clauses = params.get("clauses")
    if clauses is not None and not isinstance(clauses, list):
        raise InvalidRequest("clauses must be a list")
    rule: SegmentRule = {"_id": new_uuid(), "clauses": _new_clauses(clauses or [], "clauses")}
    # In a new rule a null option is the same as a missing one.
    _update_rollout(rule, {k: v for k, v in params.items() if v is not None}, kind_names=("rolloutContextKind",))
    description = params.get("description")
    if description is not None:
        _set_description(rule, description)
    if params.get("beforeRuleId") is None:
        segment.rules.append(rule)
    else:
        segment.rules.insert(segment.rules.index(_rule(segment, params, "beforeRuleId")), rule)
    check_segment_references(segment, [rule], context)


def _update_rollout(rule: SegmentRule, params: Params, *, kind_names: tuple[str, ...]) -> None:
    """Set the weight, bucketBy and rollout context kind that ``params`` gives; null clears one."""
    given, weight = _one_of(params, ("rolloutWeight", "weight"))
    if given and weight is None:
        rule.pop("weight", None)
    elif given:
        rule["weight"] = _weight(weight, "rolloutWeight")
    given, bucket_by = _one_of(params, ("rolloutBucketBy",))
    if given and bucket_by is None:
        rule.pop("bucketBy", None)
    elif given:
        if not isinstance(bucket_by, str) or not bucket_by:
            raise InvalidRequest("rolloutBucketBy must be a non-empty string")
        rule["bucketBy"] = bucket_by
    given, kind = _one_of(params, kind_names)
    if given and kind is None:
        rule.pop("rolloutContextKind", None)
    elif given:
        rule["rolloutContextKind"] = check_context_kind(kind, "rolloutContextKind")


def _set_description(rule: SegmentRule, description: object) -> None:
    if not isinstance(description, str):
        raise InvalidRequest("description must be a string")
    if description:
        rule["description"] = description
    else:
        rule.pop("description", None)


def _remove_rule(segment: Segment, params: Params, context: SegmentChangeContext) -> None:
    rule_id = _id(params, "ruleId")
    segment.rules = [rule for rule in segment.rules if rule["_id"] != rule_id]


def _reorder_rules(segment: Segment, params: Params, context: SegmentChangeContext) -> None:
    ids = check_strings(_list(params, "ruleIds"), "ruleIds")
    current = [rule["_id"] for rule in segment.rules]
    if len(ids) != len(current) or set(ids) != set(current):
        raise InvalidRequest("ruleIds must list every rule of the segment exactly once")
    by_id = {rule["_id"]: rule for rule in segment.rules}
    segment.rules = [by_id[rule_id] for rule_id in ids]


def _add_clauses(segment: Segment, params: Params, context: SegmentChangeContext) -> None:
    rule = _rule(segment, params)
    rule["clauses"].extend(_new_clauses(_list(params, "clauses"), "clauses"))
    check_segment_references(segment, [rule], context)


def _remove_clauses(segment: Segment, params: Params, context: SegmentChangeContext) -> None:
    rule = _rule(segment, params)
    ids = set(check_strings(_list(params, "clauseIds"), "clauseIds"))
    rule["clauses"] = [clause for clause in rule["clauses"] if clause["_id"] not in ids]


def _update_clause(segment: Segment, params: Params, context: SegmentChangeContext) -> None:
    rule = _rule(segment, params)
    old = _clause(rule, params)
    new = parse_clause(_required(params, "clause"), "clause", keep_id=False)
    new["_id"] = old["_id"]
    rule["clauses"][rule["clauses"].index(old)] = new
    check_segment_references(segment, [rule], context)


def _clause_values(*, add: bool) -> Handler:
    def handle(segment: Segment, params: Params, context: SegmentChangeContext) -> None:
        rule = _rule(segment, params)
        clause = _clause(rule, params)
        values = _list(params, "values")
        if add:
            clause["values"] = clause["values"] + [v for v in values if not _contains(clause["values"], v)]
            parse_clause(clause, "clause")  # segmentMatch values must still be segment keys
            check_segment_references(segment, [rule], context)
        else:
            clause["values"] = [v for v in clause["values"] if not _contains(values, v)]

    return handle


def _contains(values: list[Any], value: object) -> bool:
    return any(same_json(v, value) for v in values)


def _update_rule_rollout(segment: Segment, params: Params, context: SegmentChangeContext) -> None:
    _update_rollout(_rule(segment, params), params, kind_names=("rolloutContextKind", "contextKind"))


def _update_rule_description(segment: Segment, params: Params, context: SegmentChangeContext) -> None:
    rule = _rule(segment, params)
    if "description" not in params:
        raise InvalidRequest("description is required")
    _set_description(rule, "" if params["description"] is None else params["description"])


# Details


def _update_name(segment: Segment, params: Params, context: SegmentChangeContext) -> None:
    value = params.get("value")
    if not isinstance(value, str) or not value.strip():
        raise InvalidRequest("value must be a non-empty name")
    segment.name = value


def _update_description(segment: Segment, params: Params, context: SegmentChangeContext) -> None:
    if "value" not in params:  # a misspelt parameter must not silently clear the description
        raise InvalidRequest("value is required (null clears the description)")
    value = "" if params["value"] is None else params["value"]
    if not isinstance(value, str):
        raise InvalidRequest("value must be a string")
    segment.description = value


def _tags(*, add: bool) -> Handler:
    def handle(segment: Segment, params: Params, context: SegmentChangeContext) -> None:
        values = check_strings(_list(params, "values"), "values")
        if add:
            segment.tags = _unique([*segment.tags, *values])
        else:
            removed = set(values)
            segment.tags = [tag for tag in segment.tags if tag not in removed]

    return handle


_HANDLERS: dict[str, Handler] = {
    "addIncludedTargets": _targets("included", add=True, users=False),
    "removeIncludedTargets": _targets("included", add=False, users=False),
    "addExcludedTargets": _targets("excluded", add=True, users=False),
    "removeExcludedTargets": _targets("excluded", add=False, users=False),
    "addIncludedUsers": _targets("included", add=True, users=True),
    "removeIncludedUsers": _targets("included", add=False, users=True),
    "addExcludedUsers": _targets("excluded", add=True, users=True),
    "removeExcludedUsers": _targets("excluded", add=False, users=True),
    "addRule": _add_rule,
    "removeRule": _remove_rule,
    "reorderRules": _reorder_rules,
    "addClauses": _add_clauses,
    "removeClauses": _remove_clauses,
    "updateClause": _update_clause,
    "addValuesToClause": _clause_values(add=True),
    "removeValuesFromClause": _clause_values(add=False),
    "updateRuleRolloutAndContextKind": _update_rule_rollout,
    "updateRuleDescription": _update_rule_description,
    "updateName": _update_name,
    "updateDescription": _update_description,
    "addTags": _tags(add=True),
    "removeTags": _tags(add=False),
}
SEGMENT_INSTRUCTION_KINDS = frozenset(_HANDLERS)
"""LaunchDarkly's segment instruction kinds."""
_OWN_HANDLERS: dict[str, Handler] = {segment_configuration.KIND: segment_configuration.replace_configuration}
FLAGWARD_SEGMENT_INSTRUCTIONS = frozenset(_OWN_HANDLERS)
"""flagward's own (``replaceSegmentConfiguration``: an import proposed for approval)."""
