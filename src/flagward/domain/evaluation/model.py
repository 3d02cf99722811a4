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

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .context import AttrRef
from .matching import ClauseTest, malformed_test, segment_test, value_test
from .operators import Matcher
from .plans import Body, FlagPlan, build_plan

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

    ``values`` are the clause's values as given (``matcher`` is made from them); ``test`` is the whole
    clause as one function of the context (see :mod:`.matching`).
    """

    context_kind: str
    attribute: AttrRef
    op: str
    matcher: Matcher = field(compare=False)
    negate: bool
    values: tuple[Any, ...] = field(default=(), repr=False, compare=False)
    test: ClauseTest = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        test = value_test(self.context_kind, self.attribute, self.op, self.values, self.matcher, self.negate)
        object.__setattr__(self, "test", test)


@dataclass(frozen=True, slots=True)
class SegmentMatchClause:
    """``segmentMatch``: true when the context is in any of the (string) segment keys."""

    segment_keys: tuple[str, ...]
    negate: bool
    test: ClauseTest = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "test", segment_test(self.segment_keys, self.negate))


@dataclass(frozen=True, slots=True)
class MalformedClause:
    """A clause (or rule) whose JSON could not be understood; evaluating it is ``MALFORMED_FLAG``."""

    problem: str
    test: ClauseTest = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "test", malformed_test(self.problem))


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
    tests: tuple[ClauseTest, ...] = field(init=False, repr=False, compare=False)  # the clauses' tests

    def __post_init__(self) -> None:
        object.__setattr__(self, "tests", tuple(c.test for c in self.clauses))


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
    # Its results, prebuilt, and the closures that evaluate it (see :mod:`.plans`); ``run`` is
    # ``plan.run``, kept here for the evaluator's hot path.
    plan: FlagPlan = field(init=False, repr=False, compare=False)
    run: Body | None = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        plan = build_plan(self)
        object.__setattr__(self, "plan", plan)
        object.__setattr__(self, "run", plan.run)


@dataclass(frozen=True, slots=True)
class CompiledSegmentRule:
    """A segment rule; ``threshold`` is ``weight / 100000`` or None when the rule has no weight."""

    clauses: tuple[Clause, ...]
    threshold: float | None
    context_kind: str
    bucket_by: AttrRef | None
    tests: tuple[ClauseTest, ...] = field(init=False, repr=False, compare=False)  # as CompiledRule's

    def __post_init__(self) -> None:
        object.__setattr__(self, "tests", tuple(c.test for c in self.clauses))


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
        plain = (
            self.problem is None
            and not self.unbounded
            and all(isinstance(c, ValueClause) for r in self.rules for c in r.clauses)
        )
        object.__setattr__(self, "plain", plain)
