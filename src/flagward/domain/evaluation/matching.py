"""Clauses compiled into tests (one function of the context each), segment membership and bucketing.

A :data:`ClauseTest` is ``test(context, get_segment) -> bool``. A clause on a top-level attribute is one
closure with its context kind, attribute name, operator, values and negation bound, and the operator
inlined for the value type it is about (a string for string, regex, ``in`` and semver operators, a number
for numeric ones); any other value type goes through the operator's general matcher
(:func:`.operators.compile_matcher`), so the result is the same whatever the path. Kind clauses, nested
attribute paths and invalid references get their own (slower) tests; a malformed clause's test raises
:class:`Malformed`, which aborts the evaluation with ``MALFORMED_FLAG``.

A ``segmentMatch`` test decides membership of *plain* segments (see ``CompiledSegment.plain``) itself,
remembering it on the context, and raises :class:`NeedsState` on meeting any other segment: nested
segments, Big Segments and malformed segments need the evaluator's per-evaluation bookkeeping (cycle
detection, ``bigSegmentsStatus``), so the evaluator then evaluates the flag again on its general path.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Final

from .bucketing import MISSING_CONTEXT_BUCKET, bucket_value
from .context import AttrRef, Context
from .operators import Matcher, parse_semver, parse_semver_text

if TYPE_CHECKING:
    from .model import CompiledSegment, KeyTable

__all__ = [
    "ClauseTest",
    "Malformed",
    "NeedsState",
    "SegmentGetter",
    "bucket",
    "lookup",
    "malformed_test",
    "plain_segment_member",
    "segment_test",
    "value_test",
]

SegmentGetter = Callable[[str], "CompiledSegment | None"]
ClauseTest = Callable[[Context, SegmentGetter], bool]

# Ints within +/-2**53 convert to float exactly, so comparing them with a float directly is the same as
# comparing their float() (what the SDKs do); larger ones take the general matcher.
_EXACT_INT: Final = 2**53


class Malformed(Exception):
    """Aborts an evaluation with ``MALFORMED_FLAG``."""


class NeedsState(Exception):
    """A fast test met something only the evaluator's general path handles (see the module docstring)."""


# --------------------------------------------------------------------------------------------------
# Attribute lookup and bucketing


def descend(value: Any, path: tuple[str, ...]) -> Any:
    for part in path:
        if not isinstance(value, dict):
            return None  # no sub-property of a non-object
        value = value.get(part)
    return value


def lookup(ctx: Context, ref: AttrRef) -> Any:
    if ref.error is not None:
        raise Malformed(f"invalid attribute reference {ref.raw!r}: {ref.error}")
    value = ctx.table.get(ref.name)
    return descend(value, ref.path) if ref.path else value


def bucket(ctx: Context, kind: str, bucket_by: AttrRef | None, prefix: str) -> float:
    individual = ctx.by_kind.get(kind)
    if individual is None:
        return MISSING_CONTEXT_BUCKET
    value = individual.key if bucket_by is None else lookup(individual, bucket_by)
    return bucket_value(prefix, value)


# --------------------------------------------------------------------------------------------------
# Value clauses


def malformed_test(problem: str) -> ClauseTest:
    def test(ctx: Context, get_segment: SegmentGetter) -> bool:
        raise Malformed(problem)

    return test


def value_test(kind: str, ref: AttrRef, op: str, values: Sequence[Any], matcher: Matcher, negate: bool) -> ClauseTest:
    """The test of a clause on ``ref`` of the individual context of ``kind``.

    A missing context kind or attribute never matches, even negated; an array value matches when any
    element does; the ``kind`` reference matches against every individual context's kind.
    """
    if ref.is_kind:

        def test_kind(ctx: Context, get_segment: SegmentGetter) -> bool:
            return any(matcher(c.kind) for c in ctx.individuals) != negate

        return test_kind
    name, path, error = ref.name, ref.path, ref.error
    if error is not None:
        message = f"invalid attribute reference {ref.raw!r}: {error}"

        def test_bad_reference(ctx: Context, get_segment: SegmentGetter) -> bool:
            if ctx.by_kind.get(kind) is None:
                return False
            raise Malformed(message)

        return test_bad_reference
    if path:

        def test_path(ctx: Context, get_segment: SegmentGetter) -> bool:
            individual = ctx.by_kind.get(kind)
            if individual is None:
                return False
            value = descend(individual.table.get(name), path)
            if value is None:
                return False
            if isinstance(value, list | tuple):
                return any(matcher(v) for v in value) != negate
            return matcher(value) != negate

        return test_path
    return _top_level_test(kind, name, op, values, matcher, negate)


def _top_level_test(kind: str, name: str, op: str, values: Sequence[Any], matcher: Matcher, negate: bool) -> ClauseTest:
    def general(value: Any) -> bool:
        """Any value but None: what the operator's matcher says (for an array, for any element)."""
        if isinstance(value, list | tuple):
            return any(matcher(v) for v in value) != negate
        return matcher(value) != negate

    def test(ctx: Context, get_segment: SegmentGetter) -> bool:
        individual = ctx.by_kind.get(kind)
        if individual is None:
            return False
        value = individual.table.get(name)
        return value is not None and general(value)

    strings = tuple(v for v in values if isinstance(v, str))
    if op == "in":
        members = frozenset(strings)

        def test_in(ctx: Context, get_segment: SegmentGetter) -> bool:
            individual = ctx.by_kind.get(kind)
            if individual is None:
                return False
            value = individual.table.get(name)
            if type(value) is str:
                return (value in members) != negate
            return value is not None and general(value)

        return test_in
    if op in ("startsWith", "endsWith") and strings:
        starts = op == "startsWith"

        def test_affix(ctx: Context, get_segment: SegmentGetter) -> bool:
            individual = ctx.by_kind.get(kind)
            if individual is None:
                return False
            value = individual.table.get(name)
            if type(value) is str:
                return (value.startswith(strings) if starts else value.endswith(strings)) != negate
            return value is not None and general(value)

        return test_affix
    if op == "matches":
        patterns = _patterns(strings)
        if len(patterns) == 1:
            search = patterns[0].search

            def test_regex(ctx: Context, get_segment: SegmentGetter) -> bool:
                individual = ctx.by_kind.get(kind)
                if individual is None:
                    return False
                value = individual.table.get(name)
                if type(value) is str:
                    return (search(value) is not None) != negate
                return value is not None and general(value)

            return test_regex
    if op in ("lessThan", "lessThanOrEqual", "greaterThan", "greaterThanOrEqual"):
        numeric = _numeric_test(kind, name, op, values, general, negate)
        if numeric is not None:
            return numeric
    if op in ("semVerEqual", "semVerLessThan", "semVerGreaterThan"):
        semver = _semver_test(kind, name, op, values, general, negate)
        if semver is not None:
            return semver
    return test


def _patterns(strings: Sequence[str]) -> list[re.Pattern[str]]:
    out = []
    for s in strings:
        try:
            out.append(re.compile(s))
        except (re.error, RecursionError, OverflowError):
            continue  # never matches (as in the operator's matcher)
    return out


def _numeric_test(
    kind: str, name: str, op: str, values: Sequence[Any], general: Callable[[Any], bool], negate: bool
) -> ClauseTest | None:
    """Against several values, "any" is one comparison with the least (or greatest) of them."""
    try:
        numbers = [float(v) for v in values if isinstance(v, int | float) and not isinstance(v, bool)]
    except OverflowError:
        return None  # an int beyond a double's range: left to the general matcher
    if not numbers or any(math.isnan(n) for n in numbers):
        return None  # nothing to compare with; or NaN, for which min/max would not stand for "any"
    upper = op in ("lessThan", "lessThanOrEqual")
    bound = max(numbers) if upper else min(numbers)
    strict = op in ("lessThan", "greaterThan")

    def test_number(ctx: Context, get_segment: SegmentGetter) -> bool:
        individual = ctx.by_kind.get(kind)
        if individual is None:
            return False
        value: Any = individual.table.get(name)
        kind_of = type(value)
        if kind_of is float or (kind_of is int and -_EXACT_INT < value < _EXACT_INT):
            matched: bool
            if upper:
                matched = value < bound if strict else value <= bound
            else:
                matched = value > bound if strict else value >= bound
            return matched != negate
        return value is not None and general(value)

    return test_number


def _semver_test(
    kind: str, name: str, op: str, values: Sequence[Any], general: Callable[[Any], bool], negate: bool
) -> ClauseTest | None:
    targets = [k for k in (parse_semver(v) for v in values) if k is not None]
    if not targets:
        return None
    parse = parse_semver_text
    if op == "semVerEqual":
        equal = frozenset(targets)

        def test_equal(ctx: Context, get_segment: SegmentGetter) -> bool:
            individual = ctx.by_kind.get(kind)
            if individual is None:
                return False
            value = individual.table.get(name)
            if type(value) is str:
                return (parse(value) in equal) != negate
            return value is not None and general(value)

        return test_equal
    less = op == "semVerLessThan"
    bound = max(targets) if less else min(targets)

    def test_order(ctx: Context, get_segment: SegmentGetter) -> bool:
        individual = ctx.by_kind.get(kind)
        if individual is None:
            return False
        value = individual.table.get(name)
        if type(value) is str:
            key = parse(value)
            if key is None:
                return negate  # an unparsable version matches nothing
            return (key < bound if less else key > bound) != negate
        return value is not None and general(value)

    return test_order


# --------------------------------------------------------------------------------------------------
# Segments


def segment_test(segment_keys: tuple[str, ...], negate: bool) -> ClauseTest:
    """``segmentMatch`` over plain segments; raises :class:`NeedsState` at any other segment."""

    def test(ctx: Context, get_segment: SegmentGetter) -> bool:
        for key in segment_keys:
            segment = get_segment(key)
            if segment is None or segment.deleted:
                continue
            if not segment.plain:
                raise NeedsState
            if plain_segment_member(segment, ctx, get_segment):
                return not negate
        return negate

    return test


def plain_segment_member(segment: CompiledSegment, ctx: Context, get_segment: SegmentGetter) -> bool:
    """A plain segment's membership, remembered on the context for this segment object."""
    memo = ctx.memo
    seen = memo.get(segment.key)
    if seen is not None and seen[0] is segment:
        return bool(seen[1])
    matched = _plain_segment_matches(segment, ctx, get_segment)
    memo[segment.key] = (segment, matched)
    return matched


def in_key_table(table: KeyTable, ctx: Context) -> bool:
    for kind, keys in table.items():
        individual = ctx.by_kind.get(kind)
        if individual is not None and individual.key in keys:
            return True
    return False


def _plain_segment_matches(segment: CompiledSegment, ctx: Context, get_segment: SegmentGetter) -> bool:
    """Included, excluded, then the rules (whose clauses are all value clauses)."""
    if in_key_table(segment.included, ctx):
        return True
    if in_key_table(segment.excluded, ctx):
        return False
    for rule in segment.rules:
        for test in rule.tests:
            if not test(ctx, get_segment):
                break
        else:
            # A context without the rollout kind buckets to -1 and so is inside any weight.
            threshold = rule.threshold
            if threshold is None or bucket(ctx, rule.context_kind, rule.bucket_by, segment.prefix) < threshold:
                return True
    return False
