"""Compile LaunchDarkly SDK flag and segment JSON (the ``/all`` stream shape) into evaluation-ready form.

:func:`compile_flag` and :func:`compile_segment` take the parsed JSON dicts and never raise. Fields that
the SDK would reject for their type are kept as malformed parts (see :mod:`.model`), so a bad rule fails
the evaluation that reaches it with ``MALFORMED_FLAG`` instead of failing the whole data set. Where the
SDK test harness fills in defaults for missing required fields (``attribute``/``op`` ``""``, ``values``
and ``clauses`` ``[]``), we read them the same way.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, TypeGuard

from .bucketing import cumulative_thresholds, prefix_for
from .context import DEFAULT_KIND, AttrRef
from .model import (
    Clause,
    CompiledFlag,
    CompiledPrerequisite,
    CompiledRollout,
    CompiledRule,
    CompiledSegment,
    CompiledSegmentRule,
    CompiledServe,
    KeyTable,
    MalformedClause,
    SegmentMatchClause,
    TargetTable,
    ValueClause,
)
from .operators import compile_matcher

__all__ = ["compile_flag", "compile_segment"]

_NO_VARIATION = -1


class _Bad(Exception):
    """A field has the wrong JSON type; caught at the level that becomes malformed."""


def _is_int(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _opt_str(data: Mapping[str, Any], name: str) -> str | None:
    value = data.get(name)
    if value is not None and not isinstance(value, str):
        raise _Bad(f"{name!r} must be a string")
    return value


def _opt_bool(data: Mapping[str, Any], name: str) -> bool:
    value = data.get(name)
    if value is not None and not isinstance(value, bool):
        raise _Bad(f"{name!r} must be a boolean")
    return value is True


def _opt_int(data: Mapping[str, Any], name: str) -> int | None:
    value = data.get(name)
    if value is not None and not _is_int(value):
        raise _Bad(f"{name!r} must be an integer")
    return value


def _opt_list(data: Mapping[str, Any], name: str) -> list[Any]:
    value = data.get(name)
    if value is None:
        return []
    if not isinstance(value, list):
        raise _Bad(f"{name!r} must be an array")
    return value


def _variation_index(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else _NO_VARIATION


def _strings(values: Iterable[Any]) -> frozenset[str]:
    # Keys are always strings, so a non-string entry could never match; ignoring it is equivalent.
    return frozenset(v for v in values if isinstance(v, str))


def _string_list(data: Mapping[str, Any], name: str) -> frozenset[str]:
    return _strings(_opt_list(data, name))


# --------------------------------------------------------------------------------------------------
# Clauses, rollouts, rules


def _compile_clause(data: object) -> Clause:
    if not isinstance(data, Mapping):
        return MalformedClause("clause is not an object")
    try:
        context_kind = _opt_str(data, "contextKind")
        attribute = data.get("attribute", "")
        op = data.get("op", "")
        if not isinstance(attribute, str) or not isinstance(op, str):
            raise _Bad("clause 'attribute' and 'op' must be strings")
        values = _opt_list(data, "values")
        negate = _opt_bool(data, "negate")
        if op == "segmentMatch":
            return SegmentMatchClause(tuple(v for v in values if isinstance(v, str)), negate)
        ref = AttrRef.for_clause(attribute, context_kind)
        return ValueClause(context_kind or DEFAULT_KIND, ref, op, compile_matcher(op, values), negate, tuple(values))
    except Exception as exc:  # compilation must not fail; the clause fails when evaluated instead
        return MalformedClause(str(exc))


def _compile_clauses(data: Mapping[str, Any]) -> tuple[Clause, ...]:
    raw = data.get("clauses", [])
    if not isinstance(raw, list):
        return (MalformedClause("'clauses' must be an array"),)
    return tuple(_compile_clause(c) for c in raw)


def _compile_rollout(data: Mapping[str, Any], flag_key: str, salt: str) -> CompiledRollout | None:
    context_kind = _opt_str(data, "contextKind")
    bucket_by = _opt_str(data, "bucketBy")
    kind = _opt_str(data, "kind")
    seed = _opt_int(data, "seed")
    variations: list[int] = []
    weights: list[int] = []
    untracked: list[bool] = []
    for wv in _opt_list(data, "variations"):
        if not isinstance(wv, Mapping):
            raise _Bad("weighted variation is not an object")
        weight = wv.get("weight")
        if not _is_int(weight):
            raise _Bad("'weight' must be an integer")
        variations.append(_variation_index(wv.get("variation")))
        weights.append(weight)
        untracked.append(_opt_bool(wv, "untracked"))
    if not variations:
        return None  # an empty rollout is MALFORMED_FLAG when served
    return CompiledRollout(
        context_kind=context_kind or DEFAULT_KIND,
        # An empty bucketBy means the key, like an absent one.
        bucket_by=AttrRef.for_clause(bucket_by, context_kind) if bucket_by else None,
        is_experiment=kind == "experiment",
        prefix=prefix_for(flag_key, salt, seed),
        variations=tuple(variations),
        thresholds=cumulative_thresholds(weights),
        untracked=tuple(untracked),
    )


def _compile_serve(data: object, flag_key: str, salt: str) -> CompiledServe:
    """A variation-or-rollout (a rule's top level, or the fallthrough); a fixed variation wins."""
    if not isinstance(data, Mapping):
        return CompiledServe(_NO_VARIATION)
    variation = data.get("variation")
    if variation is not None:
        return CompiledServe(_variation_index(variation))
    rollout = data.get("rollout")
    if not isinstance(rollout, Mapping):
        return CompiledServe(_NO_VARIATION)
    try:
        return CompiledServe(_NO_VARIATION, _compile_rollout(rollout, flag_key, salt))
    except _Bad:
        return CompiledServe(_NO_VARIATION)


def _compile_rule(index: int, data: object, flag_key: str, salt: str) -> CompiledRule:
    if not isinstance(data, Mapping):
        return CompiledRule(index, None, (MalformedClause("rule is not an object"),), CompiledServe(-1), False)
    rule_id = data.get("id")
    clauses = _compile_clauses(data)
    if rule_id is not None and not isinstance(rule_id, str):
        rule_id, clauses = None, (MalformedClause("rule 'id' must be a string"),)
    return CompiledRule(
        index=index,
        id=rule_id,
        clauses=clauses,
        serve=_compile_serve(data, flag_key, salt),
        track_events=data.get("trackEvents") is True,
    )


# --------------------------------------------------------------------------------------------------
# Flags


def _compile_prerequisite(data: object) -> CompiledPrerequisite:
    if isinstance(data, Mapping) and isinstance(data.get("key"), str) and _is_int(data.get("variation")):
        return CompiledPrerequisite(data["key"], data["variation"])
    return CompiledPrerequisite(None, _NO_VARIATION)


def _compile_targets(targets: Sequence[Any], context_targets: Sequence[Any]) -> TargetTable:
    """Index targets by kind and key, keeping the position of the first entry that lists each key.

    With ``contextTargets``, a ``user`` entry is only a placeholder for its position: its keys are those
    of the first ``targets`` entry with the same variation. Without ``contextTargets``, ``targets`` are
    user targets in order.
    """
    user_targets: list[tuple[int, frozenset[str]]] = []
    for t in targets:
        if not isinstance(t, Mapping):
            raise _Bad("target is not an object")
        user_targets.append((_variation_index(t.get("variation")), _string_list(t, "values")))
    table: dict[str, dict[str, tuple[int, int]]] = {}

    def add(kind: str, keys: Iterable[str], position: int, variation: int) -> None:
        by_key = table.setdefault(kind, {})
        for key in keys:
            by_key.setdefault(key, (position, variation))

    if not context_targets:
        for position, (variation, keys) in enumerate(user_targets):
            add(DEFAULT_KIND, keys, position, variation)
        return table
    for position, t in enumerate(context_targets):
        if not isinstance(t, Mapping):
            raise _Bad("target is not an object")
        kind = _opt_str(t, "contextKind") or DEFAULT_KIND
        variation = _variation_index(t.get("variation"))
        if kind == DEFAULT_KIND:
            keys = next((k for v, k in user_targets if v == variation), frozenset())
        else:
            keys = _string_list(t, "values")
        add(kind, keys, position, variation)
    return table


def _client_side(flag: Mapping[str, Any]) -> tuple[bool, bool]:
    availability = flag.get("clientSideAvailability")
    if isinstance(availability, Mapping):
        return availability.get("usingEnvironmentId") is True, availability.get("usingMobileKey") is True
    return flag.get("clientSide") is True, True


def _broken_flag(key: str, version: int, problem: str) -> CompiledFlag:
    return CompiledFlag(
        key=key,
        version=version,
        deleted=False,
        on=False,
        variations=(),
        off_variation=None,
        fallthrough=CompiledServe(_NO_VARIATION),
        prerequisites=(),
        targets={},
        rules=(),
        salt="",
        track_events=False,
        track_events_fallthrough=False,
        debug_events_until_date=None,
        client_side_using_environment_id=False,
        client_side_using_mobile_key=False,
        exclude_from_summaries=False,
        sampling_ratio=None,
        problem=problem,
    )


def compile_flag(flag: Mapping[str, Any]) -> CompiledFlag:
    """Compile one flag. Never raises; see the module docstring for how bad data is kept."""
    if not isinstance(flag, Mapping):
        return _broken_flag("", 0, "flag is not an object")
    raw_key = flag.get("key")
    key = raw_key if isinstance(raw_key, str) else ""
    raw_version = flag.get("version")
    version = raw_version if _is_int(raw_version) else 0
    try:
        salt = _opt_str(flag, "salt") or ""
        off_variation = flag.get("offVariation")
        debug_until = flag.get("debugEventsUntilDate")
        sampling_ratio = flag.get("samplingRatio")
        env_id, mobile = _client_side(flag)
        return CompiledFlag(
            key=key,
            version=version,
            deleted=flag.get("deleted") is True,
            on=_opt_bool(flag, "on"),
            variations=tuple(_opt_list(flag, "variations")),
            off_variation=None if off_variation is None else _variation_index(off_variation),
            fallthrough=_compile_serve(flag.get("fallthrough", {}), key, salt),
            prerequisites=tuple(_compile_prerequisite(p) for p in _opt_list(flag, "prerequisites")),
            targets=_compile_targets(_opt_list(flag, "targets"), _opt_list(flag, "contextTargets")),
            rules=tuple(_compile_rule(i, r, key, salt) for i, r in enumerate(_opt_list(flag, "rules"))),
            salt=salt,
            track_events=flag.get("trackEvents") is True,
            track_events_fallthrough=flag.get("trackEventsFallthrough") is True,
            debug_events_until_date=debug_until if isinstance(debug_until, int | float) else None,
            client_side_using_environment_id=env_id,
            client_side_using_mobile_key=mobile,
            exclude_from_summaries=flag.get("excludeFromSummaries") is True,
            sampling_ratio=sampling_ratio if _is_int(sampling_ratio) else None,
        )
    except Exception as exc:  # _Bad, or anything unforeseen: the whole flag is malformed
        return _broken_flag(key, version, str(exc) or type(exc).__name__)


# --------------------------------------------------------------------------------------------------
# Segments


def _compile_key_table(user_keys: frozenset[str], targets: Sequence[Any]) -> KeyTable:
    table: dict[str, frozenset[str]] = {DEFAULT_KIND: user_keys} if user_keys else {}
    for t in targets:
        if not isinstance(t, Mapping):
            raise _Bad("segment target is not an object")
        kind = _opt_str(t, "contextKind") or DEFAULT_KIND
        keys = _string_list(t, "values")
        if keys:
            table[kind] = table.get(kind, frozenset()) | keys
    return table


def _compile_segment_rule(data: object) -> CompiledSegmentRule:
    try:
        if not isinstance(data, Mapping):
            raise _Bad("segment rule is not an object")
        weight = _opt_int(data, "weight")
        bucket_by = _opt_str(data, "bucketBy")
        context_kind = _opt_str(data, "rolloutContextKind")
        return CompiledSegmentRule(
            clauses=_compile_clauses(data),
            threshold=None if weight is None else weight / 100000.0,
            context_kind=context_kind or DEFAULT_KIND,
            bucket_by=AttrRef.for_clause(bucket_by, context_kind) if bucket_by else None,
        )
    except _Bad as exc:
        return CompiledSegmentRule((MalformedClause(str(exc)),), None, DEFAULT_KIND, None)


def compile_segment(segment: Mapping[str, Any]) -> CompiledSegment:
    """Compile one segment. Never raises; a malformed segment fails the evaluation that reaches it."""
    raw_key = segment.get("key") if isinstance(segment, Mapping) else None
    key = raw_key if isinstance(raw_key, str) else ""
    raw_version = segment.get("version") if isinstance(segment, Mapping) else None
    version = raw_version if _is_int(raw_version) else 0
    try:
        if not isinstance(segment, Mapping):
            raise _Bad("segment is not an object")
        salt = _opt_str(segment, "salt") or ""
        return CompiledSegment(
            key=key,
            version=version,
            deleted=segment.get("deleted") is True,
            included=_compile_key_table(_string_list(segment, "included"), _opt_list(segment, "includedContexts")),
            excluded=_compile_key_table(_string_list(segment, "excluded"), _opt_list(segment, "excludedContexts")),
            rules=tuple(_compile_segment_rule(r) for r in _opt_list(segment, "rules")),
            salt=salt,
            prefix=prefix_for(key, salt),
            unbounded=_opt_bool(segment, "unbounded"),
            unbounded_context_kind=_opt_str(segment, "unboundedContextKind") or DEFAULT_KIND,
            generation=_opt_int(segment, "generation"),
        )
    except Exception as exc:
        return CompiledSegment(
            key,
            version,
            False,
            {},
            {},
            (),
            "",
            prefix_for(key, ""),
            False,
            DEFAULT_KIND,
            None,
            problem=str(exc) or type(exc).__name__,
        )
