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

from flagward.domain.flags import Flag, FlagConfig, VariationOrRollout

DAY_MS = 24 * 60 * 60 * 1000
WINDOW_MS = 7 * DAY_MS
DEFAULT_VARIATION = -1  # an evaluation that served the application's default value (no variation)


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
            self.counts[slot] = self.counts.get(slot, 0) + count


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


def tallies_from_summary(environment_id: str, event: Any) -> list[EvaluationTally]:
    """The tallies in one SDK ``summary`` event; anything malformed in it is skipped."""
    if not isinstance(event, dict) or event.get("kind") != "summary":
        return []
    end = event.get("endDate")
    features = event.get("features")
    if not _is_int(end) or end < 0 or not isinstance(features, dict):
        return []
    day = end // DAY_MS
    tallies = []
    for key, feature in features.items():
        if not isinstance(key, str) or not isinstance(feature, dict):
            continue
        tally = EvaluationTally(environment_id, key, last_requested=end)
        if "default" in feature:
            tally.default, tally.has_default = feature["default"], True
        for counter in feature.get("counters") or []:
            if isinstance(counter, dict) and _is_int(counter.get("count")) and counter["count"] > 0:
                variation = counter.get("variation")
                slot = (day, variation if _is_int(variation) else DEFAULT_VARIATION)
                tally.counts[slot] = tally.counts.get(slot, 0) + counter["count"]
        tallies.append(tally)
    return tallies


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
