"""A compiled flag's evaluation plan: every result it can give, built once, and the closures that pick one.

A flag can only end in a few ways: off, a prerequisite failed, an individual target, a rule, the
fallthrough, each serving one variation, or one of a rollout's variations in or out of an experiment. Each
of these is an :class:`EvaluationDetail` made here when the flag is compiled (value, variation, reason,
``trackEvents``/``trackReason``) and returned as is, so an evaluation allocates nothing for its result
unless it has prerequisites or meets a Big Segment.

The plan's ``body`` decides targets, rules and fallthrough (everything after the off switch and
prerequisites) in one closure; ``run`` is the whole evaluation of a flag without prerequisites. Both may
raise :class:`.matching.NeedsState` (a segment only the evaluator's general path handles) or
:class:`.matching.Malformed`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Final

from .bucketing import bucket_text, bucketable
from .context import Context
from .matching import ClauseTest, SegmentGetter, lookup
from .results import MALFORMED_REASON, EvaluationDetail

if TYPE_CHECKING:
    from .model import CompiledFlag, CompiledRollout, CompiledServe

__all__ = ["Body", "FlagPlan", "Pick", "build_plan"]

Body = Callable[[Context, SegmentGetter], EvaluationDetail]
Pick = Callable[[Context], EvaluationDetail]
# A rule as the body walks it: its clause tests, then what it serves (a result, or a rollout's pick).
RulePlan = tuple[tuple[ClauseTest, ...], EvaluationDetail, Pick | None]

_OFF: Final = {"kind": "OFF"}
_TARGET_MATCH: Final = {"kind": "TARGET_MATCH"}
_FALLTHROUGH: Final = {"kind": "FALLTHROUGH"}


class FlagPlan:
    """Prebuilt results of one flag and the closures that choose between them (read-only once built)."""

    __slots__ = ("body", "fallthrough", "malformed", "off", "prerequisite_failed", "rules", "run", "targets")

    def __init__(
        self,
        *,
        off: EvaluationDetail,
        malformed: EvaluationDetail,
        prerequisite_failed: Mapping[str, EvaluationDetail],
        targets: Callable[[Context], EvaluationDetail | None] | None,
        rules: tuple[RulePlan, ...],
        fallthrough: tuple[EvaluationDetail, Pick | None],
        body: Body,
        run: Body | None,
    ) -> None:
        self.off = off
        # What a flag gives when its variation cannot be served, and at the top level for MALFORMED_FLAG.
        self.malformed = malformed
        self.prerequisite_failed = prerequisite_failed
        self.targets = targets
        self.rules = rules
        self.fallthrough = fallthrough
        self.body = body
        self.run = run


class _Results:
    """Makes a flag's results (and shares the one for "cannot serve")."""

    def __init__(self, flag: CompiledFlag) -> None:
        self.variations = flag.variations
        self.track_events = flag.track_events
        self.malformed = EvaluationDetail(None, None, MALFORMED_REASON, (), (), flag.track_events, False)

    def serve(self, index: int, reason: dict[str, Any], track_reason: bool = False) -> EvaluationDetail:
        if 0 <= index < len(self.variations):
            track = self.track_events or track_reason
            return EvaluationDetail(self.variations[index], index, reason, (), (), track, track_reason)
        return self.malformed

    def off(self, off_variation: int | None, reason: dict[str, Any]) -> EvaluationDetail:
        if off_variation is None:
            return EvaluationDetail(None, None, reason, (), (), self.track_events, False)
        return self.serve(off_variation, reason)


def _pick(results: _Results, rollout: CompiledRollout, reason: dict[str, Any], tracked: bool) -> Pick:
    """The rollout's choice for a context; ``tracked`` is the rule's or fallthrough's own event tracking."""
    in_experiment = {**reason, "inExperiment": True}
    slots = [
        results.serve(index, in_experiment, True)
        if rollout.is_experiment and not untracked
        else results.serve(index, reason, tracked)
        for index, untracked in zip(rollout.variations, rollout.untracked, strict=True)
    ]
    thresholds = rollout.thresholds
    last = len(thresholds) - 1
    # A context without the rollout's kind buckets to -1 (never in an experiment); the last slot also
    # takes buckets past the end (weights summing below 100000, or rounding).
    missing_slot = next((i for i in range(last) if thresholds[i] > -1.0), last)
    missing = results.serve(rollout.variations[missing_slot], reason, tracked)
    bounds = tuple(zip(thresholds[:last], slots[:last], strict=True))
    final = slots[last]
    kind = rollout.context_kind
    prefix = rollout.prefix + "."
    # Experiments always bucket by key, so that the allocation cannot be influenced by attributes.
    bucket_by = None if rollout.is_experiment else rollout.bucket_by

    def pick(ctx: Context) -> EvaluationDetail:
        individual = ctx.by_kind.get(kind)
        if individual is None:
            return missing
        if bucket_by is None:
            bucket = bucket_text(prefix, individual.key)
        else:
            text = bucketable(lookup(individual, bucket_by))
            bucket = 0.0 if text is None else bucket_text(prefix, text)
        for threshold, result in bounds:
            if bucket < threshold:
                return result
        return final

    return pick


def _serve(
    results: _Results, serve: CompiledServe, reason: dict[str, Any], tracked: bool
) -> tuple[EvaluationDetail, Pick | None]:
    if serve.rollout is None:
        return results.serve(serve.variation, reason, tracked), None
    return results.malformed, _pick(results, serve.rollout, reason, tracked)


def _targets(results: _Results, flag: CompiledFlag) -> tuple[str | None, dict[str, EvaluationDetail], Any]:
    """(kind, key -> result) when one kind has targets; else (None, {}, a lookup over several kinds)."""
    tables = {kind: by_key for kind, by_key in flag.targets.items() if by_key}
    if not tables:
        return None, {}, None
    if len(tables) == 1:
        ((kind, by_key),) = tables.items()
        return kind, {key: results.serve(variation, _TARGET_MATCH) for key, (_, variation) in by_key.items()}, None
    ranked = tuple(
        (kind, {key: (position, results.serve(variation, _TARGET_MATCH)) for key, (position, variation) in t.items()})
        for kind, t in tables.items()
    )

    def several(ctx: Context) -> EvaluationDetail | None:
        # The target entry listed first wins when the context's kinds hit several.
        best: tuple[int, EvaluationDetail] | None = None
        for kind, by_key in ranked:
            individual = ctx.by_kind.get(kind)
            if individual is not None:
                hit = by_key.get(individual.key)
                if hit is not None and (best is None or hit[0] < best[0]):
                    best = hit
        return None if best is None else best[1]

    return None, {}, several


def build_plan(flag: CompiledFlag) -> FlagPlan:
    results = _Results(flag)
    rules = []
    for rule in flag.rules:
        reason: dict[str, Any] = {"kind": "RULE_MATCH", "ruleIndex": rule.index}
        if rule.id is not None:
            reason["ruleId"] = rule.id
        rules.append((rule.tests, *_serve(results, rule.serve, reason, rule.track_events)))
    rule_plans = tuple(rules)
    fallthrough = _serve(results, flag.fallthrough, _FALLTHROUGH, flag.track_events_fallthrough)
    target_kind, target_keys, several = _targets(results, flag)
    body = _body(target_kind, target_keys, several, rule_plans, fallthrough)
    off = results.off(flag.off_variation, _OFF)
    run: Body | None
    if flag.problem is not None or flag.prerequisites:
        run = None  # the evaluator's stateful path
    elif not flag.on:
        run = _constant(off)
    else:
        run = body

    def targets(ctx: Context) -> EvaluationDetail | None:
        if target_kind is not None:
            individual = ctx.by_kind.get(target_kind)
            return None if individual is None else target_keys.get(individual.key)
        return None if several is None else several(ctx)

    return FlagPlan(
        off=off,
        malformed=results.malformed,
        prerequisite_failed={
            p.key: results.off(flag.off_variation, {"kind": "PREREQUISITE_FAILED", "prerequisiteKey": p.key})
            for p in flag.prerequisites
            if p.key is not None
        },
        targets=targets,
        rules=rule_plans,
        fallthrough=fallthrough,
        body=body,
        run=run,
    )


def _constant(result: EvaluationDetail) -> Body:
    def constant(ctx: Context, get_segment: SegmentGetter) -> EvaluationDetail:
        return result

    return constant


def _body(
    target_kind: str | None,
    target_keys: dict[str, EvaluationDetail],
    several: Callable[[Context], EvaluationDetail | None] | None,
    rules: tuple[RulePlan, ...],
    fallthrough: tuple[EvaluationDetail, Pick | None],
) -> Body:
    fallthrough_result, fallthrough_pick = fallthrough

    def body(ctx: Context, get_segment: SegmentGetter) -> EvaluationDetail:
        if target_kind is not None:
            individual = ctx.by_kind.get(target_kind)
            if individual is not None:
                hit = target_keys.get(individual.key)
                if hit is not None:
                    return hit
        elif several is not None:
            found = several(ctx)
            if found is not None:
                return found
        for tests, result, pick in rules:
            for test in tests:
                if not test(ctx, get_segment):
                    break
            else:  # every clause matched (a rule without clauses always matches)
                return result if pick is None else pick(ctx)
        return fallthrough_result if fallthrough_pick is None else fallthrough_pick(ctx)

    return body
