"""Flag statuses: what SDK summary events tell about each flag's use, and LaunchDarkly's status names.

LaunchDarkly's definitions (``getFeatureFlagStatuses``):

- ``new``: created fewer than seven days ago and never requested;
- ``inactive``: not requested within the past seven days (created more than seven days ago);
- ``launched``: requested, on, serving one variation, and no configuration change for seven days;
- ``active``: requested, but serving several variations, or off, or changed in the past seven days.

"Serving one variation" is read from both sides: the configuration can serve only one variation, and
the evaluations counted in the window all got that variation (or the application's default).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, TypeGuard

from flagward.domain import json_values
from flagward.domain.flags import Flag, FlagConfig, VariationOrRollout
from flagward.domain.ids import MAX_KEY_LENGTH

DAY_MS = 24 * 60 * 60 * 1000
WINDOW_MS = 7 * DAY_MS
DEFAULT_VARIATION = -1  # an evaluation that served the application's default value (no variation)
MAX_END_DATE = 253_402_300_799_999  # 9999-12-31T23:59:59.999Z: its day number fits the store's 32-bit column
MAX_VARIATION = 2**31 - 1  # the store's 32-bit variation column


class StatusName(StrEnum):
    NEW = "new"
    ACTIVE = "active"
    INACTIVE = "inactive"
    LAUNCHED = "launched"


@dataclass
class EvaluationTally:
    """Evaluations of one flag in one environment seen by this process, not yet stored: the latest
    request time, the latest default value, and counts by (day, variation index)."""

    environment_id: str
    flag_key: str
    last_requested: int = 0
    default: Any = None
    has_default: bool = False
    counts: dict[tuple[int, int], int] = field(default_factory=dict)

    def add(self, other: EvaluationTally) -> None:
        if other.last_requested >= self.last_requested and other.has_default:
            self.default, self.has_default = other.default, True
        self.last_requested = max(self.last_requested, other.last_requested)
        for slot, count in other.counts.items():
            self.counts[slot] = saturating_add(self.counts.get(slot, 0), count)


@dataclass(frozen=True)
class FlagUsage:
    """What the store knows of a flag's evaluations in an environment: the last request, the default
    value last seen, and counts by variation over the status window."""

    last_requested: int
    default: Any = None
    has_default: bool = False
    counts: dict[int, int] = field(default_factory=dict)


@dataclass(frozen=True)
class FlagStatus:
    flag_key: str
    name: StatusName
    last_requested: int | None = None
    default: Any = None
    has_default: bool = False


class MalformedEvent(ValueError):
    """An SDK event that cannot be stored as it is: it is dropped (and counted), never half-stored."""


def tallies_from_events(environment_id: str, events: list[Any]) -> tuple[list[EvaluationTally], int]:
    """The tallies of the ``summary`` events among ``events``, each event checked on its own, and the
    number of malformed events dropped. Events of other kinds are ignored (not counted as dropped)."""
    tallies: list[EvaluationTally] = []
    dropped = 0
    for event in events:
        try:
            tallies.extend(tallies_from_summary(environment_id, event))
        except MalformedEvent:
            dropped += 1
    return tallies, dropped


def tallies_from_summary(environment_id: str, event: Any) -> list[EvaluationTally]:
    """The tallies in one SDK event; none for an event other than ``summary``. Raises MalformedEvent
    when the event is not an object, holds a value the stores cannot keep (``json_values``: NaN, an
    integer beyond 64 bits, NUL, deep nesting), or is a summary of the wrong shape or out of range."""
    if not isinstance(event, dict):
        raise MalformedEvent("an event must be an object")
    if (problem := json_values.find_problem(event)) is not None:
        raise MalformedEvent(f"{problem[0]}: {problem[1]}")
    if event.get("kind") != "summary":
        return []
    end = event.get("endDate")
    features = event.get("features")
    if not _is_int(end) or not 0 <= end <= MAX_END_DATE:
        raise MalformedEvent("endDate must be a date in milliseconds")
    if not isinstance(features, dict):
        raise MalformedEvent("features must be an object")
    return [_tally(environment_id, key, feature, end) for key, feature in features.items()]


def _tally(environment_id: str, key: str, feature: Any, end: int) -> EvaluationTally:
    if not 1 <= len(key) <= MAX_KEY_LENGTH:
        raise MalformedEvent(f"flag keys have 1 to {MAX_KEY_LENGTH} characters")
    if not isinstance(feature, dict) or not isinstance(feature.get("counters") or [], list):
        raise MalformedEvent(f"features.{key} must be an object with a counters array")
    tally = EvaluationTally(environment_id, key, last_requested=end)
    if "default" in feature:
        tally.default, tally.has_default = feature["default"], True
    day = end // DAY_MS
    for counter in feature.get("counters") or []:
        count = counter.get("count") if isinstance(counter, dict) else None
        variation = counter.get("variation") if isinstance(counter, dict) else None
        if not _is_int(count) or count < 0:
            raise MalformedEvent(f"features.{key}.counters: each counter needs a count, a non-negative integer")
        if variation is not None and not (_is_int(variation) and 0 <= variation <= MAX_VARIATION):
            raise MalformedEvent(f"features.{key}.counters: variation must be a variation index")
        slot = (day, DEFAULT_VARIATION if variation is None else variation)
        if count:
            tally.counts[slot] = saturating_add(tally.counts.get(slot, 0), count)
    return tally


def saturating_add(a: int, b: int) -> int:
    """``a + b``, held at the stores' largest integer: counts never overflow a 64-bit column."""
    return min(a + b, json_values.INT64_MAX)


def status_of(flag: Flag, env_key: str, usage: FlagUsage | None, *, now: int) -> FlagStatus:
    name = _name(flag, flag.environments.get(env_key), usage, now)
    if usage is None:
        return FlagStatus(flag.key, name)
    return FlagStatus(flag.key, name, usage.last_requested, usage.default, usage.has_default)


def _name(flag: Flag, config: FlagConfig | None, usage: FlagUsage | None, now: int) -> StatusName:
    if usage is None:
        return StatusName.NEW if now - flag.creation_date < WINDOW_MS else StatusName.INACTIVE
    if now - usage.last_requested > WINDOW_MS:
        return StatusName.INACTIVE
    if (
        config is not None
        and config["on"]
        and now - config["lastModified"] >= WINDOW_MS
        and (served := single_variation(config)) is not None
        and set(usage.counts) <= {served, DEFAULT_VARIATION}
    ):
        return StatusName.LAUNCHED
    return StatusName.ACTIVE


def single_variation(config: FlagConfig) -> int | None:
    """The one variation an on configuration can serve, or None if it can serve several."""
    served: set[int] = set()
    for target in [*config["targets"], *config["contextTargets"]]:
        if target["values"]:
            served.add(target["variation"])
    for rule in config["rules"]:
        if not rule.get("disabled"):
            served |= _serves(rule)
    served |= _serves(config["fallthrough"])
    return served.pop() if len(served) == 1 else None


def _serves(serve: VariationOrRollout) -> set[int]:
    if "rollout" in serve:
        return {w["variation"] for w in serve["rollout"]["variations"] if w["weight"] > 0}
    return {serve["variation"]} if "variation" in serve else set()


def _is_int(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)
