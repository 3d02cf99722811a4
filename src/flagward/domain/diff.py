"""Two (or three) environment configurations of a flag compared part by part, in plain language.

Each part (targeting on/off, individual targets, rules, default rule, off variation, prerequisites) is
rendered as lines with ``describe``'s wording, and parts compare by those lines: two configurations
that read the same are the same (rule ids, stored order of targets and placeholder entries aside).
Used for an approval request's before/after, for comparing two environments, and three-way (the
configuration a request was made against, the current one, and the proposed one).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from flagward.domain.describe import (
    FlagLookup,
    describe_keys,
    describe_prerequisite,
    describe_rule,
    describe_serve,
    describe_variation,
)
from flagward.domain.flags import Flag

PARTS: tuple[tuple[str, str], ...] = (
    ("on", "Targeting"),
    ("targets", "Individual targets"),
    ("rules", "Rules"),
    ("fallthrough", "Default rule"),
    ("offVariation", "Off variation"),
    ("prerequisites", "Prerequisites"),
)
"""``(part, title)`` in display order; ``part`` is the configuration's field (targets covers
``contextTargets`` too)."""

MISSING = "Not configured in this environment"


@dataclass(frozen=True)
class PartDiff:
    part: str
    title: str
    before: list[str]
    after: list[str]
    differs: bool


@dataclass(frozen=True)
class ThreeWayPart:
    """``changed_by_request``: proposed differs from base; ``changed_meanwhile``: current differs from
    base; ``conflicting``: both, and current differs from proposed."""

    part: str
    title: str
    base: list[str]
    current: list[str]
    proposed: list[str]
    changed_by_request: bool
    changed_meanwhile: bool
    conflicting: bool


def config_lines(flag: Flag, environment_key: str, *, get_flag: FlagLookup | None = None) -> dict[str, list[str]]:
    """Every part of ``flag``'s configuration in ``environment_key`` as lines, keyed like ``PARTS``.
    An environment the flag lacks reads ``MISSING`` in every part."""
    config: Any = flag.environments.get(environment_key)
    if not isinstance(config, Mapping):
        return {part: [MISSING] for part, _ in PARTS}
    return {
        "on": ["Targeting is on" if config.get("on") is True else "Targeting is off"],
        "targets": _targets(flag, config),
        "rules": _rules(flag, config.get("rules")),
        "fallthrough": [f"Serve {describe_serve(flag, config.get('fallthrough'))}"],
        "offVariation": [_off(flag, config.get("offVariation"))],
        "prerequisites": _prerequisites(config.get("prerequisites"), get_flag),
    }


def _targets(flag: Flag, config: Mapping[str, Any]) -> list[str]:
    """One line per (variation, kind), keys sorted; placeholders and empty entries vanish."""
    slots: dict[tuple[int, str], set[str]] = {}
    for name in ("targets", "contextTargets"):
        entries = config.get(name)
        for target in entries if isinstance(entries, list) else []:
            values = target.get("values") if isinstance(target, Mapping) else None
            if not isinstance(values, list) or not values:
                continue
            variation, kind = target.get("variation"), target.get("contextKind") or "user"
            if isinstance(variation, int) and isinstance(kind, str):
                slots.setdefault((variation, kind), set()).update(map(str, values))
    order = sorted(slots, key=lambda slot: (slot[0], slot[1] != "user", slot[1]))
    lines = [
        f"Serve {describe_variation(flag, v)} to {describe_keys(k, sorted(slots[(v, k)]), limit=None)}"
        for v, k in order
    ]
    return lines or ["No individual targets"]


def _rules(flag: Flag, rules: object) -> list[str]:
    lines = []
    for number, rule in enumerate(rules if isinstance(rules, list) else [], 1):
        description = rule.get("description") if isinstance(rule, Mapping) else None
        named = f' ("{description}")' if isinstance(description, str) and description else ""
        lines.append(f"Rule {number}{named}: {describe_rule(flag, rule)}")
    return lines or ["No rules"]


def _off(flag: Flag, off_variation: object) -> str:
    if off_variation is None:
        return "Serve the application's fallback value"
    return f"Serve {describe_variation(flag, off_variation)}"


def _prerequisites(prerequisites: object, get_flag: FlagLookup | None) -> list[str]:
    lines = [
        describe_prerequisite(p.get("key"), p.get("variation"), get_flag=get_flag)
        for p in (prerequisites if isinstance(prerequisites, list) else [])
        if isinstance(p, Mapping)
    ]
    return lines or ["No prerequisites"]


def diff_configs(
    before: Flag,
    after: Flag,
    *,
    before_environment: str,
    after_environment: str | None = None,
    get_flag: FlagLookup | None = None,
) -> list[PartDiff]:
    """Every part of ``before``'s configuration in ``before_environment`` beside ``after``'s in
    ``after_environment`` (default: the same environment), in ``PARTS`` order.

    A request's effect: ``diff_configs(current, proposed, before_environment=env)``; two environments:
    ``diff_configs(flag, flag, before_environment="production", after_environment="test")``.
    """
    old = config_lines(before, before_environment, get_flag=get_flag)
    new = config_lines(after, after_environment or before_environment, get_flag=get_flag)
    return [PartDiff(part, title, old[part], new[part], old[part] != new[part]) for part, title in PARTS]


def diff_three_way(
    base: Flag, current: Flag, proposed: Flag, *, environment_key: str, get_flag: FlagLookup | None = None
) -> list[ThreeWayPart]:
    """``base`` (what a request was made against), ``current`` and ``proposed`` in one environment."""
    lines = [config_lines(flag, environment_key, get_flag=get_flag) for flag in (base, current, proposed)]
    parts = []
    for part, title in PARTS:
        was, now, wanted = (side[part] for side in lines)
        by_request, meanwhile = wanted != was, now != was
        conflicting = by_request and meanwhile and now != wanted
        parts.append(ThreeWayPart(part, title, was, now, wanted, by_request, meanwhile, conflicting))
    return parts
