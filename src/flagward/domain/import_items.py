"""What an import is made of: items parsed from LaunchDarkly data, refusals naming the exact JSON path
and reason, and the plan (create / update / unchanged / refused) that ``--dry-run`` prints. Pure.

Items are refused one at a time: a malformed flag or segment never stops the others. Paths are those
of the input (``flags.checkout.rules[0].clauses[1].op`` in an SDK payload,
``flags/checkout.json:environments.production.rules[0]`` in a REST directory).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from flagward.domain.errors import InvalidRequest
from flagward.domain.flag_validation import find_prerequisite_cycle
from flagward.domain.flags import Flag
from flagward.domain.segments import Segment

_PATH = re.compile(r"^[A-Za-z_$][\w.$\[\]-]*$")


class Outcome(StrEnum):
    CREATE = "create"
    UPDATE = "update"
    UNCHANGED = "unchanged"
    REFUSED = "refused"
    REQUESTED = "requested"  # only approval requests were made (``--as-requests``)


@dataclass(frozen=True)
class Requested:
    """An approval request an import made (``--as-requests``) for ``item`` in ``environment_key``;
    ``request_id`` is None in a dry run (one would be made)."""

    item: str
    environment_key: str
    request_id: str | None


@dataclass(frozen=True)
class Refusal:
    """An item that is not imported: ``item`` (``flags/KEY``, ``segments/ENV/KEY``…), where, and why."""

    item: str
    path: str
    reason: str

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}"


@dataclass(frozen=True)
class PlanEntry:
    item: str
    outcome: Outcome
    detail: str = ""


@dataclass
class Plan:
    """What an import did (or, with ``--dry-run``, would do), item by item, in the order of the work."""

    entries: list[PlanEntry] = field(default_factory=list)
    refusals: list[Refusal] = field(default_factory=list)
    requests: list[Requested] = field(default_factory=list)

    def add(self, item: str, outcome: Outcome, detail: str = "") -> None:
        self.entries.append(PlanEntry(item, outcome, detail))

    def refuse(self, refusal: Refusal) -> None:
        self.refusals.append(refusal)
        self.add(refusal.item, Outcome.REFUSED, str(refusal))

    def items(self, outcome: Outcome) -> list[PlanEntry]:
        return [e for e in self.entries if e.outcome is outcome]

    def counts(self) -> dict[str, int]:
        return {o.value: len(self.items(o)) for o in Outcome}


@dataclass
class ParsedEnvironment:
    """One environment's flags (each a Flag holding only that environment's configuration) and
    segments, parsed, with the items refused on the way."""

    flags: dict[str, Flag] = field(default_factory=dict)
    segments: dict[str, Segment] = field(default_factory=dict)
    refusals: list[Refusal] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # deleted items (tombstones) in the input


class ItemRefused(InvalidRequest):
    """Raised while parsing one item: the input path and the reason."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path} {reason}")
        self.path = path
        self.reason = reason


def refusal_from(
    error: InvalidRequest, item: str, prefix: str, translate: Callable[[str], str] = str, *, sep: str = "."
) -> Refusal:
    """A Refusal for ``item`` from a validation error whose message starts with a flagward path (as
    ``flag_validation`` writes them): that path is translated into the input's and put after ``prefix``."""
    if isinstance(error, ItemRefused):
        return Refusal(item, error.path, error.reason)
    head, _, rest = error.message.partition(" ")
    if rest and _PATH.match(head):
        inner = translate(head)
        return Refusal(item, f"{prefix}{sep}{inner}" if inner else prefix, rest)
    return Refusal(item, prefix, error.message)


def prerequisite_cycles(flags: dict[str, Flag], env_key: str) -> dict[str, list[str]]:
    """The flags of ``flags`` whose prerequisites in ``env_key`` lead back to them, with the cycle."""
    cycles: dict[str, list[str]] = {}
    for key, flag in flags.items():
        cycle = find_prerequisite_cycle(flag, env_key, flags.get)
        if cycle:
            cycles[key] = cycle
    return cycles


def prerequisite_order(flags: dict[str, Flag]) -> list[str]:
    """Flag keys with each flag's prerequisites (among ``flags``) before it, so each can be checked
    against what is already stored; keys in a cycle come last, in input order, to be refused."""
    order: list[str] = []
    state: dict[str, int] = {}

    def visit(key: str, trail: tuple[str, ...]) -> None:
        if state.get(key) == 2 or key in trail:
            return
        for prerequisite in _prerequisites(flags[key]):
            if prerequisite in flags:
                visit(prerequisite, (*trail, key))
        if state.get(key) != 2:
            state[key] = 2
            order.append(key)

    for key in flags:
        visit(key, ())
    return order


def _prerequisites(flag: Flag) -> Iterable[str]:
    for config in flag.environments.values():
        prerequisites: Any = config.get("prerequisites") if isinstance(config, dict) else None
        for p in prerequisites if isinstance(prerequisites, list) else []:
            if isinstance(p, dict) and isinstance(p.get("key"), str):
                yield p["key"]


def segment_order(segments: dict[str, Segment]) -> list[str]:
    """Segment keys with the segments a segment's rules name (segmentMatch) before it."""
    order: list[str] = []
    done: set[str] = set()

    def visit(key: str, trail: tuple[str, ...]) -> None:
        if key in done or key in trail:
            return
        for rule in segments[key].rules if isinstance(segments[key].rules, list) else []:
            for clause in rule.get("clauses", []) if isinstance(rule, dict) else []:
                if isinstance(clause, dict) and clause.get("op") == "segmentMatch":
                    for other in clause.get("values") or []:
                        if isinstance(other, str) and other in segments:
                            visit(other, (*trail, key))
        if key not in done:
            done.add(key)
            order.append(key)

    for key in segments:
        visit(key, ())
    return order
