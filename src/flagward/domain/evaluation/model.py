"""The compiled (evaluation-ready) form of flags and segments, produced by :mod:`.compile`.

Everything here is frozen and slotted, and already in the shape the evaluator walks: attribute references
parsed, clause values turned into matchers, target lists into lookup tables, rollout weights into
cumulative thresholds. Containers inside are plain dicts/tuples owned by the compiled object; nothing
may mutate them.

Malformed data never makes compilation fail. It is kept in a form that the evaluator reports the way the
SDK does: a variation index that cannot be used is stored as ``-1`` (out of range, so evaluation yields
``MALFORMED_FLAG`` where it is used), and a structurally broken clause, rule, prerequisite or flag is
flagged so that evaluation fails with ``MALFORMED_FLAG`` when it reaches it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .context import AttrRef, Context
from .operators import Matcher

__all__ = [
    "Clause",
    "CompiledFlag",
    "CompiledPrerequisite",
    "CompiledRollout",
    "CompiledRule",
    "CompiledSegment",
    "CompiledSegmentRule",
    "CompiledServe",
    "MalformedClause",
    "SegmentMatchClause",
    "ValueClause",
]

# kind -> context key -> (position of the target entry, variation); the lowest position wins.
TargetTable = Mapping[str, Mapping[str, tuple[int, int]]]
# kind -> keys, for segment includes/excludes.
KeyTable = Mapping[str, frozenset[str]]


@dataclass(frozen=True, slots=True)
class ValueClause:
    """A clause that tests an attribute of the individual context of ``context_kind``.

    ``name``/``path``/``is_kind``/``ref_error`` are copied out of ``attribute`` for the hot path.
    """

    context_kind: str
    attribute: AttrRef
    op: str
    matcher: Matcher = field(compare=False)
    negate: bool
    name: str = field(init=False, repr=False, compare=False)
    path: tuple[str, ...] = field(init=False, repr=False, compare=False)
    is_kind: bool = field(init=False, repr=False, compare=False)
    ref_error: str | None = field(init=False, repr=False, compare=False)
    # The whole clause as one function of the context, for the common case (a plain attribute of a
    # known kind); None where the evaluator must take the general path (kind, nested path, bad ref).
    test: ClauseTest | None = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        setter = object.__setattr__
        setter(self, "name", self.attribute.name)
        setter(self, "path", self.attribute.path)
        setter(self, "is_kind", self.attribute.is_kind)
        setter(self, "ref_error", self.attribute.error)
        simple = not self.attribute.path and not self.attribute.is_kind and self.attribute.error is None
        test = _plain_test(self.context_kind, self.attribute.name, self.matcher, self.negate) if simple else None
        setter(self, "test", test)


ClauseTest = Callable[["Context"], bool]


def _plain_test(kind: str, name: str, matcher: Matcher, negate: bool) -> ClauseTest:
    """A clause on a top-level attribute: a missing kind or attribute never matches, even negated; an
    array matches when any element does."""

    def test(ctx: Context) -> bool:
        individual = ctx.by_kind.get(kind)
        if individual is None:
            return False
        value = individual.table.get(name)
        if value is None:
            return False
        if isinstance(value, (list, tuple)):
            return any(matcher(v) for v in value) != negate
        return matcher(value) != negate

    return test


@dataclass(frozen=True, slots=True)
class SegmentMatchClause:
    """``segmentMatch``: true when the context is in any of the (string) segment keys."""

    segment_keys: tuple[str, ...]
    negate: bool
    test: None = field(default=None, init=False, repr=False, compare=False)  # never a plain test


@dataclass(frozen=True, slots=True)
class MalformedClause:
    """A clause (or rule) whose JSON could not be understood; evaluating it is ``MALFORMED_FLAG``."""

    problem: str
    test: None = field(default=None, init=False, repr=False, compare=False)  # never a plain test


Clause = ValueClause | SegmentMatchClause | MalformedClause


@dataclass(frozen=True, slots=True)
class CompiledRollout:
    """A percentage rollout or experiment; ``bucket_by`` None means the context key."""

    context_kind: str
    bucket_by: AttrRef | None
    is_experiment: bool
    prefix: str
    variations: tuple[int, ...]
    thresholds: tuple[float, ...]
    untracked: tuple[bool, ...]


@dataclass(frozen=True, slots=True)
class CompiledServe:
    """What a rule or the fallthrough serves: a fixed ``variation`` or, when set, a ``rollout``.

    ``variation`` is ``-1`` when neither a usable variation nor a usable rollout was given.
    """

    variation: int
    rollout: CompiledRollout | None = None


@dataclass(frozen=True, slots=True)
class CompiledRule:
    index: int
    id: str | None
    clauses: tuple[Clause, ...]
    serve: CompiledServe
    track_events: bool
    # Every clause as a plain test (see ValueClause.test), or None when one needs the general path.
    tests: tuple[ClauseTest, ...] | None = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "tests", _plain_tests(self.clauses))


def _plain_tests(clauses: tuple[Clause, ...]) -> tuple[ClauseTest, ...] | None:
    tests = tuple(c.test for c in clauses if isinstance(c, ValueClause) and c.test is not None)
    return tests if len(tests) == len(clauses) else None


@dataclass(frozen=True, slots=True)
class CompiledPrerequisite:
    """``key`` is None when the prerequisite entry is malformed (evaluating it is ``MALFORMED_FLAG``)."""

    key: str | None
    variation: int


@dataclass(frozen=True, slots=True)
class CompiledFlag:
    """A flag ready to evaluate, plus the metadata callers need for events and client-side payloads.

    ``client_side_using_environment_id`` / ``client_side_using_mobile_key`` follow LaunchDarkly's rule:
    an explicit ``clientSideAvailability`` wins; otherwise the first is the old ``clientSide`` boolean and
    the second is true. ``problem`` is set when the flag as a whole is malformed.
    """

    key: str
    version: int
    deleted: bool
    on: bool
    variations: tuple[Any, ...]
    off_variation: int | None
    fallthrough: CompiledServe
    prerequisites: tuple[CompiledPrerequisite, ...]
    targets: TargetTable
    rules: tuple[CompiledRule, ...]
    salt: str
    track_events: bool
    track_events_fallthrough: bool
    debug_events_until_date: int | float | None
    client_side_using_environment_id: bool
    client_side_using_mobile_key: bool
    exclude_from_summaries: bool
    sampling_ratio: int | None
    problem: str | None = None
    # Nothing in it needs per-evaluation bookkeeping: no prerequisites, and every rule's clauses are
    # plain tests (no segment matches, nested paths, kind clauses or malformed parts).
    plain: bool = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        plain = self.problem is None and not self.prerequisites and all(r.tests is not None for r in self.rules)
        object.__setattr__(self, "plain", plain)


@dataclass(frozen=True, slots=True)
class CompiledSegmentRule:
    """A segment rule; ``threshold`` is ``weight / 100000`` or None when the rule has no weight."""

    clauses: tuple[Clause, ...]
    threshold: float | None
    context_kind: str
    bucket_by: AttrRef | None
    tests: tuple[ClauseTest, ...] | None = field(init=False, repr=False, compare=False)  # as CompiledRule's

    def __post_init__(self) -> None:
        object.__setattr__(self, "tests", _plain_tests(self.clauses))


@dataclass(frozen=True, slots=True)
class CompiledSegment:
    """A segment ready to evaluate; ``problem`` is set when the segment as a whole is malformed."""

    key: str
    version: int
    deleted: bool
    included: KeyTable
    excluded: KeyTable
    rules: tuple[CompiledSegmentRule, ...]
    salt: str
    prefix: str
    unbounded: bool
    unbounded_context_kind: str
    generation: int | None
    problem: str | None = None
    # Whether a context's membership depends on this segment alone (no nested segments, no Big Segment
    # store, nothing malformed): then it can be remembered for the context (``Context.memo``).
    plain: bool = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        plain = self.problem is None and not self.unbounded and all(r.tests is not None for r in self.rules)
        object.__setattr__(self, "plain", plain)
