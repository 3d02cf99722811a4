"""Flag evaluation: LaunchDarkly's algorithm over compiled flags and segments.

Order (as the SDKs): off -> prerequisites -> individual targets -> rules -> fallthrough. The result is an
:class:`EvaluationDetail` whose ``reason`` is exactly the dict an SDK would report. A result without a
variation (``variation_index`` None) means "use the application's default value".

Two kinds of failure exist, as in the SDKs, and the difference is observable through prerequisites:

* a variation that cannot be served (index out of range, empty rollout, nothing to serve) is a *result*
  with reason ``ERROR/MALFORMED_FLAG``; as a prerequisite it just fails to match;
* an invalid attribute reference, a malformed clause, or a prerequisite or segment cycle aborts the whole
  evaluation with ``ERROR/MALFORMED_FLAG``, however deep it was found.

An unexpected exception (for example from a store getter) gives ``ERROR/EXCEPTION``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, Final, NamedTuple

from .bucketing import MISSING_CONTEXT_BUCKET, bucket_value
from .context import AttrRef, Context
from .model import (
    Clause,
    CompiledFlag,
    CompiledRollout,
    CompiledRule,
    CompiledSegment,
    CompiledServe,
    KeyTable,
    SegmentMatchClause,
    ValueClause,
)

__all__ = ["EvaluationDetail", "Evaluator", "PrerequisiteEvaluation"]

_log = logging.getLogger(__name__)

_NOT_CONFIGURED: Final = "NOT_CONFIGURED"


class PrerequisiteEvaluation(NamedTuple):
    """One prerequisite flag evaluated on the way (what an SDK emits as a feature event with ``prereqOf``).

    Listed in evaluation order: a prerequisite's own prerequisites come before it.
    """

    flag_key: str
    prerequisite_of: str
    variation_index: int | None
    value: Any
    version: int
    reason: dict[str, Any]
    track_events: bool
    track_reason: bool
    flag: CompiledFlag


class EvaluationDetail(NamedTuple):
    """The outcome of one flag evaluation (a named tuple: it is made once per evaluation, so cheaply).

    ``reason`` is LaunchDarkly's reason dict (``inExperiment`` present only when true). ``track_reason`` is
    true when the result is in an experiment or comes from a rule/fallthrough with event tracking on;
    ``track_events`` adds the flag's own ``trackEvents``. These are the evalx ``trackReason`` and
    ``trackEvents``. ``prerequisite_keys`` are the keys of the flag's direct prerequisites that were
    evaluated (the evalx ``prerequisites`` field); ``prerequisites`` are all prerequisite evaluations.
    """

    value: Any
    variation_index: int | None
    reason: dict[str, Any]
    prerequisites: tuple[PrerequisiteEvaluation, ...] = ()
    prerequisite_keys: tuple[str, ...] = ()
    track_events: bool = False
    track_reason: bool = False

    @property
    def is_default_value(self) -> bool:
        """True when there is no variation, so the caller's default value applies."""
        return self.variation_index is None


class _Malformed(Exception):
    """Aborts an evaluation with ``MALFORMED_FLAG``."""


class _State:
    """Per-evaluation bookkeeping shared by the flag and its prerequisites (lists made on first use)."""

    __slots__ = ("big_segments_status", "path", "prerequisite_keys", "prerequisites", "segment_stack")

    def __init__(self, flag_key: str) -> None:
        self.path: list[str] = [flag_key]  # flags being evaluated (cycle detection)
        self.segment_stack: list[str] | None = None
        self.prerequisites: list[PrerequisiteEvaluation] | None = None
        self.prerequisite_keys: list[str] | None = None
        self.big_segments_status: str | None = None

    def details(self) -> tuple[tuple[PrerequisiteEvaluation, ...], tuple[str, ...]]:
        if self.prerequisites is None and self.prerequisite_keys is None:
            return (), ()
        return tuple(self.prerequisites or ()), tuple(self.prerequisite_keys or ())


# (value, variation index, reason)
_Result = tuple[Any, int | None, dict[str, Any]]


def _error(kind: str) -> dict[str, Any]:
    return {"kind": "ERROR", "errorKind": kind}


def _variation(flag: CompiledFlag, index: int, reason: dict[str, Any]) -> _Result:
    if 0 <= index < len(flag.variations):
        return flag.variations[index], index, reason
    return None, None, _error("MALFORMED_FLAG")


def _off(flag: CompiledFlag, reason: dict[str, Any]) -> _Result:
    if flag.off_variation is None:
        return None, None, reason
    return _variation(flag, flag.off_variation, reason)


def _descend(value: Any, path: tuple[str, ...]) -> Any:
    for part in path:
        if not isinstance(value, dict):
            return None  # no sub-property of a non-object
        value = value.get(part)
    return value


def _lookup(ctx: Context, ref: AttrRef) -> Any:
    if ref.error is not None:
        raise _Malformed(f"invalid attribute reference {ref.raw!r}: {ref.error}")
    value = ctx.table.get(ref.name)
    return _descend(value, ref.path) if ref.path else value


def _bucket(ctx: Context, kind: str, bucket_by: AttrRef | None, prefix: str) -> float:
    individual = ctx.by_kind.get(kind)
    if individual is None:
        return MISSING_CONTEXT_BUCKET
    value = individual.key if bucket_by is None else _lookup(individual, bucket_by)
    return bucket_value(prefix, value)


def _rollout(rollout: CompiledRollout, ctx: Context) -> tuple[int, bool]:
    # Experiments always bucket by key, so that the allocation cannot be influenced by attributes.
    bucket_by = None if rollout.is_experiment else rollout.bucket_by
    bucket = _bucket(ctx, rollout.context_kind, bucket_by, rollout.prefix)
    in_experiment = rollout.is_experiment and bucket >= 0
    thresholds = rollout.thresholds
    last = len(thresholds) - 1
    for i in range(last):
        if bucket < thresholds[i]:
            return rollout.variations[i], in_experiment and not rollout.untracked[i]
    # The last slot also takes buckets past the end (weights summing below 100000, or rounding).
    return rollout.variations[last], in_experiment and not rollout.untracked[last]


def _serve(flag: CompiledFlag, serve: CompiledServe, ctx: Context, reason: dict[str, Any]) -> _Result:
    rollout = serve.rollout
    if rollout is None:
        return _variation(flag, serve.variation, reason)
    index, in_experiment = _rollout(rollout, ctx)
    if in_experiment:
        reason["inExperiment"] = True
    return _variation(flag, index, reason)


def _track_reason(flag: CompiledFlag, reason: dict[str, Any]) -> bool:
    kind = reason["kind"]
    if kind == "FALLTHROUGH":
        return flag.track_events_fallthrough or "inExperiment" in reason
    if "inExperiment" in reason:  # only ever set to True
        return True
    if kind == "RULE_MATCH":
        index = reason["ruleIndex"]
        return isinstance(index, int) and 0 <= index < len(flag.rules) and flag.rules[index].track_events
    return False


def _in_key_table(table: KeyTable, ctx: Context) -> bool:
    for kind, keys in table.items():
        individual = ctx.by_kind.get(kind)
        if individual is not None and individual.key in keys:
            return True
    return False


def _plain_segment_matches(segment: CompiledSegment, ctx: Context) -> bool:
    """A plain segment's membership (see CompiledSegment.plain): included, excluded, then its rules."""
    if _in_key_table(segment.included, ctx):
        return True
    if _in_key_table(segment.excluded, ctx):
        return False
    for rule in segment.rules:
        for test in rule.tests or ():
            if not test(ctx):
                break
        else:
            # A context without the rollout kind buckets to -1 and so is inside any weight.
            threshold = rule.threshold
            if threshold is None or _bucket(ctx, rule.context_kind, rule.bucket_by, segment.prefix) < threshold:
                return True
    return False


class Evaluator:
    """Evaluates compiled flags; prerequisites and segments are fetched through the two getters.

    The getters return None for unknown (or deleted) keys. No Big Segment store is supported: an
    unbounded segment never matches and the reason carries ``bigSegmentsStatus: NOT_CONFIGURED``, as the
    SDK does without a store. The evaluator holds no per-evaluation state and is safe to share.
    """

    __slots__ = ("_get_flag", "_get_segment")

    def __init__(
        self,
        get_flag: Callable[[str], CompiledFlag | None],
        get_segment: Callable[[str], CompiledSegment | None],
    ) -> None:
        self._get_flag = get_flag
        self._get_segment = get_segment

    def evaluate_key(self, flag_key: str, context: Context) -> EvaluationDetail:
        """Evaluate a flag by key; an unknown or deleted flag gives ``ERROR/FLAG_NOT_FOUND``."""
        flag = self._get_flag(flag_key)
        if flag is None or flag.deleted:
            return EvaluationDetail(None, None, _error("FLAG_NOT_FOUND"))
        return self.evaluate(flag, context)

    def evaluate(self, flag: CompiledFlag, context: Context) -> EvaluationDetail:
        """Evaluate ``flag`` for ``context``. Never raises."""
        if flag.plain:  # no prerequisites, segments or malformed parts: nothing to keep track of
            try:
                value, index, reason = self._evaluate(flag, context, None, top_level=True)
            except _Malformed:  # e.g. a rollout's bucketBy that is not a valid reference
                return EvaluationDetail(None, None, _error("MALFORMED_FLAG"), track_events=flag.track_events)
            except Exception:
                _log.exception("unexpected error evaluating flag %r", flag.key)
                return EvaluationDetail(None, None, _error("EXCEPTION"), track_events=flag.track_events)
            track_reason = _track_reason(flag, reason)
            return EvaluationDetail(value, index, reason, (), (), flag.track_events or track_reason, track_reason)
        state = _State(flag.key)
        try:
            value, index, reason = self._evaluate(flag, context, state, top_level=True)
        except _Malformed:
            prerequisites, prerequisite_keys = state.details()
            return EvaluationDetail(
                None, None, _error("MALFORMED_FLAG"), prerequisites, prerequisite_keys, flag.track_events
            )
        except Exception:
            _log.exception("unexpected error evaluating flag %r", flag.key)
            return EvaluationDetail(None, None, _error("EXCEPTION"), track_events=flag.track_events)
        if state.big_segments_status is not None:
            reason["bigSegmentsStatus"] = state.big_segments_status
        track_reason = _track_reason(flag, reason)
        prerequisites, prerequisite_keys = state.details()
        return EvaluationDetail(
            value, index, reason, prerequisites, prerequisite_keys, flag.track_events or track_reason, track_reason
        )

    # -- flags --------------------------------------------------------------------------------------

    def _evaluate(self, flag: CompiledFlag, ctx: Context, state: _State | None, top_level: bool) -> _Result:
        """``state`` is None only for a plain flag (``CompiledFlag.plain``), which never needs it."""
        if flag.problem is not None:
            raise _Malformed(flag.problem)
        if not flag.on:
            return _off(flag, {"kind": "OFF"})
        if flag.prerequisites:
            assert state is not None
            failed = self._check_prerequisites(flag, ctx, state, top_level)
            if failed is not None:
                return _off(flag, {"kind": "PREREQUISITE_FAILED", "prerequisiteKey": failed})
        if flag.targets:
            best: tuple[int, int] | None = None
            for kind, by_key in flag.targets.items():
                individual = ctx.by_kind.get(kind)
                if individual is not None:
                    hit = by_key.get(individual.key)
                    if hit is not None and (best is None or hit[0] < best[0]):
                        best = hit
            if best is not None:
                return _variation(flag, best[1], {"kind": "TARGET_MATCH"})
        for rule in flag.rules:
            tests = rule.tests
            if tests is not None:
                for test in tests:
                    if not test(ctx):
                        break
                else:  # every clause matched (a rule without clauses always matches)
                    return self._rule_match(flag, rule, ctx)
                continue
            assert state is not None
            for clause in rule.clauses:
                clause_test = clause.test
                if clause_test is not None:
                    if not clause_test(ctx):
                        break
                elif not self._clause_matches(clause, ctx, state):
                    break
            else:
                return self._rule_match(flag, rule, ctx)
        return _serve(flag, flag.fallthrough, ctx, {"kind": "FALLTHROUGH"})

    @staticmethod
    def _rule_match(flag: CompiledFlag, rule: CompiledRule, ctx: Context) -> _Result:
        reason: dict[str, Any] = {"kind": "RULE_MATCH", "ruleIndex": rule.index}
        if rule.id is not None:
            reason["ruleId"] = rule.id
        return _serve(flag, rule.serve, ctx, reason)

    def _check_prerequisites(self, flag: CompiledFlag, ctx: Context, state: _State, top_level: bool) -> str | None:
        """The key of the first failing prerequisite, or None when all pass."""
        path = state.path
        for prereq in flag.prerequisites:
            key = prereq.key
            if key is None:
                raise _Malformed(f"malformed prerequisite in flag {flag.key!r}")
            if key in path:
                raise _Malformed(f"prerequisite cycle through {key!r}")
            prereq_flag = self._get_flag(key)
            if top_level:
                if state.prerequisite_keys is None:
                    state.prerequisite_keys = []
                state.prerequisite_keys.append(key)
            if prereq_flag is None or prereq_flag.deleted:
                return key
            path.append(key)
            value, index, reason = self._evaluate(prereq_flag, ctx, state, top_level=False)
            path.pop()
            track_reason = _track_reason(prereq_flag, reason)
            if state.prerequisites is None:
                state.prerequisites = []
            state.prerequisites.append(
                PrerequisiteEvaluation(
                    flag_key=key,
                    prerequisite_of=flag.key,
                    variation_index=index,
                    value=value,
                    version=prereq_flag.version,
                    reason=reason,
                    track_events=prereq_flag.track_events or track_reason,
                    track_reason=track_reason,
                    flag=prereq_flag,
                )
            )
            # An off prerequisite fails whatever its off variation is.
            if not prereq_flag.on or index != prereq.variation:
                return key
        return None

    # -- clauses and segments -----------------------------------------------------------------------

    def _clause_matches(self, clause: Clause, ctx: Context, state: _State) -> bool:
        if isinstance(clause, ValueClause):
            matcher = clause.matcher
            if clause.is_kind:
                matched = any(matcher(c.kind) for c in ctx.individuals)
                return matched != clause.negate
            individual = ctx.by_kind.get(clause.context_kind)
            if individual is None:
                return False  # a missing context kind is a non-match even when negated
            if clause.ref_error is not None:
                raise _Malformed(f"invalid attribute reference {clause.attribute.raw!r}: {clause.ref_error}")
            value = individual.table.get(clause.name)
            if clause.path:
                value = _descend(value, clause.path)
            if value is None:
                return False  # so is a missing attribute
            if isinstance(value, list | tuple):
                # An array attribute matches when any element does.
                return any(matcher(v) for v in value) != clause.negate
            return matcher(value) != clause.negate
        if isinstance(clause, SegmentMatchClause):
            for key in clause.segment_keys:
                segment = self._get_segment(key)
                if segment is not None and not segment.deleted and self._segment_matches(segment, ctx, state):
                    return not clause.negate
            return clause.negate
        raise _Malformed(clause.problem)

    def _segment_matches(self, segment: CompiledSegment, ctx: Context, state: _State) -> bool:
        if segment.plain:
            memo = ctx.memo
            seen = memo.get(id(segment))
            if seen is not None and seen[0] is segment:
                return bool(seen[1])
            matched = _plain_segment_matches(segment, ctx)
            memo[id(segment)] = (segment, matched)
            return matched
        stack = state.segment_stack
        if stack is None:
            stack = state.segment_stack = []
        elif segment.key in stack:
            raise _Malformed(f"segment cycle through {segment.key!r}")
        if segment.problem is not None:
            raise _Malformed(segment.problem)
        if segment.unbounded:
            # Without a Big Segment store: NOT_CONFIGURED, unless the context cannot be in it at all.
            if segment.generation is None or segment.unbounded_context_kind in ctx.by_kind:
                state.big_segments_status = _NOT_CONFIGURED
            return False
        for kind, keys in segment.included.items():
            individual = ctx.by_kind.get(kind)
            if individual is not None and individual.key in keys:
                return True
        for kind, keys in segment.excluded.items():
            individual = ctx.by_kind.get(kind)
            if individual is not None and individual.key in keys:
                return False
        if not segment.rules:
            return False
        stack.append(segment.key)
        try:
            for rule in segment.rules:
                for clause in rule.clauses:
                    if not self._clause_matches(clause, ctx, state):
                        break
                else:
                    if rule.threshold is None:
                        return True
                    # A context without the rollout kind buckets to -1 and so is inside any weight.
                    if _bucket(ctx, rule.context_kind, rule.bucket_by, segment.prefix) < rule.threshold:
                        return True
            return False
        finally:
            stack.pop()
