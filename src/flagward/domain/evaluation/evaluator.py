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
from typing import Final

from .context import Context
from .matching import Malformed, NeedsState, SegmentGetter, bucket, in_key_table, plain_segment_member
from .model import Clause, CompiledFlag, CompiledSegment, SegmentMatchClause
from .results import EvaluationDetail, PrerequisiteEvaluation, error_reason

__all__ = ["EvaluationDetail", "Evaluator", "PrerequisiteEvaluation"]

_log = logging.getLogger(__name__)

_NOT_CONFIGURED: Final = "NOT_CONFIGURED"
_new_tuple: Final = tuple.__new__  # a named tuple from its fields in order, without a Python-level call


class _State:
    """Per-evaluation bookkeeping shared by the flag and its prerequisites."""

    __slots__ = ("big_segments_status", "path", "prerequisite_keys", "prerequisites", "segment_stack")

    def __init__(self, flag_key: str) -> None:
        self.path: list[str] = [flag_key]  # flags being evaluated (cycle detection)
        self.segment_stack: list[str] | None = None
        self.prerequisites: list[PrerequisiteEvaluation] = []
        self.prerequisite_keys: list[str] = []
        self.big_segments_status: str | None = None


class Evaluator:
    """Evaluates compiled flags; prerequisites and segments are fetched through the two getters.

    The getters return None for unknown (or deleted) keys. No Big Segment store is supported: an
    unbounded segment never matches and the reason carries ``bigSegmentsStatus: NOT_CONFIGURED``, as the
    SDK does without a store. The evaluator holds no per-evaluation state and is safe to share.

    A flag without prerequisites is evaluated by its compiled plan alone (``CompiledFlag.run``), which
    returns one of the flag's prebuilt results. Prerequisites, and segments whose membership is not a
    function of the segment alone (nested segments, Big Segments, malformed ones), take the stateful
    path below, which keeps the evaluation order, cycle detection and ``bigSegmentsStatus``.
    """

    __slots__ = ("_get_flag", "_get_segment")

    def __init__(
        self,
        get_flag: Callable[[str], CompiledFlag | None],
        get_segment: SegmentGetter,
    ) -> None:
        self._get_flag = get_flag
        self._get_segment = get_segment

    def evaluate_key(self, flag_key: str, context: Context) -> EvaluationDetail:
        """Evaluate a flag by key; an unknown or deleted flag gives ``ERROR/FLAG_NOT_FOUND``."""
        flag = self._get_flag(flag_key)
        if flag is None or flag.deleted:
            return EvaluationDetail(None, None, error_reason("FLAG_NOT_FOUND"))
        return self.evaluate(flag, context)

    def evaluate(self, flag: CompiledFlag, context: Context) -> EvaluationDetail:
        """Evaluate ``flag`` for ``context``. Never raises."""
        run = flag.run
        if run is not None:  # no prerequisites, nothing malformed in the flag as a whole
            try:
                return run(context, self._get_segment)
            except NeedsState:
                pass  # a segment that needs the stateful path: evaluate again there
            except Malformed:  # e.g. a rollout's bucketBy that is not a valid reference
                return flag.plan.malformed
            except Exception:
                _log.exception("unexpected error evaluating flag %r", flag.key)
                return EvaluationDetail(None, None, error_reason("EXCEPTION"), track_events=flag.track_events)
        state = _State(flag.key)
        try:
            result = self._evaluate(flag, context, state, top_level=True, fast=run is None)
        except Malformed:
            return EvaluationDetail(
                None,
                None,
                error_reason("MALFORMED_FLAG"),
                tuple(state.prerequisites),
                tuple(state.prerequisite_keys),
                flag.track_events,
            )
        except Exception:
            _log.exception("unexpected error evaluating flag %r", flag.key)
            return EvaluationDetail(None, None, error_reason("EXCEPTION"), track_events=flag.track_events)
        reason = result.reason
        if state.big_segments_status is not None:
            reason = {**reason, "bigSegmentsStatus": state.big_segments_status}
        elif not state.prerequisite_keys:
            return result
        return EvaluationDetail(
            result.value,
            result.variation_index,
            reason,
            tuple(state.prerequisites),
            tuple(state.prerequisite_keys),
            result.track_events,
            result.track_reason,
        )

    # -- flags --------------------------------------------------------------------------------------

    def _evaluate(
        self, flag: CompiledFlag, ctx: Context, state: _State, top_level: bool, fast: bool = True
    ) -> EvaluationDetail:
        """One of the flag's prebuilt results (prerequisite records and Big Segment status go in ``state``).

        ``fast`` False skips the plan's body (already tried, it needed the state).
        """
        if flag.problem is not None:
            raise Malformed(flag.problem)
        plan = flag.plan
        if not flag.on:
            return plan.off
        if flag.prerequisites:
            failed = self._check_prerequisites(flag, ctx, state, top_level)
            if failed is not None:
                return plan.prerequisite_failed[failed]
        if fast:
            try:
                return plan.body(ctx, self._get_segment)
            except NeedsState:
                pass
        # Targets, rules and fallthrough again, with segments evaluated through the state.
        targeted = plan.targets(ctx) if plan.targets is not None else None
        if targeted is not None:
            return targeted
        for rule, (_, result, pick) in zip(flag.rules, plan.rules, strict=True):
            for clause in rule.clauses:
                if not self._clause_matches(clause, ctx, state):
                    break
            else:
                return result if pick is None else pick(ctx)
        result, pick = plan.fallthrough
        return result if pick is None else pick(ctx)

    def _check_prerequisites(self, flag: CompiledFlag, ctx: Context, state: _State, top_level: bool) -> str | None:
        """The key of the first failing prerequisite, or None when all pass."""
        path = state.path
        records = state.prerequisites
        for prereq in flag.prerequisites:
            key = prereq.key
            if key is None:
                raise Malformed(f"malformed prerequisite in flag {flag.key!r}")
            if key in path:
                raise Malformed(f"prerequisite cycle through {key!r}")
            prereq_flag = self._get_flag(key)
            if top_level:
                state.prerequisite_keys.append(key)
            if prereq_flag is None or prereq_flag.deleted:
                return key
            run = prereq_flag.run
            if run is not None:  # no prerequisites of its own: no path to extend
                try:
                    result = run(ctx, self._get_segment)
                except NeedsState:
                    result = self._evaluate(prereq_flag, ctx, state, top_level=False, fast=False)
            else:
                path.append(key)
                result = self._evaluate(prereq_flag, ctx, state, top_level=False)
                path.pop()
            records.append(
                _new_tuple(
                    PrerequisiteEvaluation,
                    (
                        key,  # flag_key
                        flag.key,  # prerequisite_of
                        result.variation_index,
                        result.value,
                        prereq_flag.version,
                        result.reason,
                        result.track_events,
                        result.track_reason,
                        prereq_flag,
                    ),
                )
            )
            # An off prerequisite fails whatever its off variation is.
            if not prereq_flag.on or result.variation_index != prereq.variation:
                return key
        return None

    # -- clauses and segments -----------------------------------------------------------------------

    def _clause_matches(self, clause: Clause, ctx: Context, state: _State) -> bool:
        if isinstance(clause, SegmentMatchClause):
            for key in clause.segment_keys:
                segment = self._get_segment(key)
                if segment is not None and not segment.deleted and self._segment_matches(segment, ctx, state):
                    return not clause.negate
            return clause.negate
        return clause.test(ctx, self._get_segment)  # a value clause, or a malformed one (which raises)

    def _segment_matches(self, segment: CompiledSegment, ctx: Context, state: _State) -> bool:
        if segment.plain:
            return plain_segment_member(segment, ctx, self._get_segment)
        stack = state.segment_stack
        if stack is None:
            stack = state.segment_stack = []
        elif segment.key in stack:
            raise Malformed(f"segment cycle through {segment.key!r}")
        if segment.problem is not None:
            raise Malformed(segment.problem)
        if segment.unbounded:
            # Without a Big Segment store: NOT_CONFIGURED, unless the context cannot be in it at all.
            if segment.generation is None or segment.unbounded_context_kind in ctx.by_kind:
                state.big_segments_status = _NOT_CONFIGURED
            return False
        if in_key_table(segment.included, ctx):
            return True
        if in_key_table(segment.excluded, ctx):
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
                    if bucket(ctx, rule.context_kind, rule.bucket_by, segment.prefix) < rule.threshold:
                        return True
            return False
        finally:
            stack.pop()
