"""Feature flags: the project-level flag and its per-environment targeting configurations.

Targeting structures are JSON-native TypedDicts in LaunchDarkly's REST shape (``_id`` on rules and
clauses, variation *indexes* in configurations); instructions address variations by ``_id`` and translate.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, NotRequired, TypedDict

from flagward.domain.errors import InvalidRequest
from flagward.domain.ids import new_salt, new_uuid
from flagward.domain.json_values import copy_json
from flagward.domain.projects import ClientSideAvailability


class Variation(TypedDict):
    _id: str
    value: Any
    name: NotRequired[str]
    description: NotRequired[str]


class Clause(TypedDict):
    _id: str
    attribute: str
    op: str
    values: list[Any]
    negate: bool
    contextKind: NotRequired[str]


class WeightedVariation(TypedDict):
    variation: int
    weight: int
    _untracked: NotRequired[bool]


class Rollout(TypedDict):
    variations: list[WeightedVariation]
    bucketBy: NotRequired[str]
    contextKind: NotRequired[str]
    seed: NotRequired[int]
    experimentAllocation: NotRequired[dict[str, Any]]


class VariationOrRollout(TypedDict, total=False):
    variation: int
    rollout: Rollout


class Rule(TypedDict):
    _id: str
    clauses: list[Clause]
    trackEvents: bool
    variation: NotRequired[int]
    rollout: NotRequired[Rollout]
    description: NotRequired[str]
    disabled: NotRequired[bool]
    ref: NotRequired[str]


class Target(TypedDict):
    values: list[str]
    variation: int
    contextKind: NotRequired[str]


class Prerequisite(TypedDict):
    key: str
    variation: int


class FlagConfig(TypedDict):
    """One environment's targeting for a flag (LaunchDarkly's ``FeatureFlagConfig``, stored fields)."""

    on: bool
    archived: bool
    salt: str
    sel: str
    lastModified: int
    version: int
    targets: list[Target]
    contextTargets: list[Target]
    rules: list[Rule]
    fallthrough: VariationOrRollout
    offVariation: int | None
    prerequisites: list[Prerequisite]
    trackEvents: bool
    trackEventsFallthrough: bool
    _debugEventsUntilDate: NotRequired[int]
    migrationSettings: NotRequired[dict[str, Any]]


@dataclass(frozen=True)
class Defaults:
    on_variation: int
    off_variation: int


@dataclass
class Flag:
    id: str
    project_key: str
    key: str
    name: str
    kind: str  # "boolean" | "multivariate"
    variations: list[Variation]
    creation_date: int
    defaults: Defaults
    description: str = ""
    temporary: bool = False
    tags: list[str] = field(default_factory=list)
    maintainer_id: str | None = None
    maintainer_team_key: str | None = None
    client_side_availability: ClientSideAvailability = field(default_factory=ClientSideAvailability)
    archived: bool = False
    archived_date: int | None = None
    deprecated: bool = False
    deprecated_date: int | None = None
    custom_properties: dict[str, Any] = field(default_factory=dict)
    version: int = 1
    environments: dict[str, FlagConfig] = field(default_factory=dict)

    def variation_index(self, variation_id: object) -> int:
        """The index of the variation with ``_id`` ``variation_id``; InvalidRequest if there is none."""
        for index, variation in enumerate(self.variations):
            if variation["_id"] == variation_id:
                return index
        raise InvalidRequest(f"unknown variationId '{variation_id}'")

    def config(self, env_key: str) -> FlagConfig:
        try:
            return self.environments[env_key]
        except KeyError:
            raise InvalidRequest(f"unknown environment '{env_key}'") from None

    def clone(self) -> Flag:
        """A copy sharing nothing mutable with this flag (``defaults`` and ``client_side_availability``
        are frozen); its documents are JSON, copied as such."""
        return replace(
            self,
            variations=copy_json(self.variations),
            tags=list(self.tags),
            custom_properties=copy_json(self.custom_properties),
            environments=copy_json(self.environments),
        )


def new_variations(values: list[dict[str, Any]] | None) -> tuple[str, list[Variation]]:
    """Variations for a new flag: two booleans when none are given. Returns ``(kind, variations)``."""
    if not values:
        return "boolean", [{"_id": new_uuid(), "value": True}, {"_id": new_uuid(), "value": False}]
    result: list[Variation] = []
    for i, raw in enumerate(values):
        if not isinstance(raw, dict) or "value" not in raw:
            raise InvalidRequest(f"variations[{i}].value is required")
        variation: Variation = {"_id": new_uuid(), "value": raw["value"]}
        for optional in ("name", "description"):
            if raw.get(optional) is not None:
                if not isinstance(raw[optional], str):
                    raise InvalidRequest(f"variations[{i}].{optional} must be a string")
                variation[optional] = raw[optional]
        result.append(variation)
    validate_variations(result)
    is_boolean = len(result) == 2 and {type(v["value"]) for v in result} == {bool}
    return ("boolean" if is_boolean else "multivariate"), result


def validate_variations(variations: list[Variation]) -> None:
    if len(variations) < 2:
        raise InvalidRequest("a flag needs at least two variations")
    seen: list[Any] = []
    for i, variation in enumerate(variations):
        value = variation["value"]
        if value is None:
            raise InvalidRequest(f"variations[{i}].value must not be null")
        if any(_same_json(value, other) for other in seen):
            raise InvalidRequest(f"variations[{i}].value duplicates another variation; values must be unique")
        seen.append(value)


def _same_json(a: Any, b: Any) -> bool:
    # JSON equality: bool is not a number here, unlike in Python.
    return type(a) is type(b) and a == b if isinstance(a, bool) or isinstance(b, bool) else a == b


def new_config(defaults: Defaults, *, now: int, track_events: bool = False, version: int = 1) -> FlagConfig:
    """A fresh environment configuration: off, serving the defaults, with a random salt."""
    return {
        "on": False,
        "archived": False,
        "salt": new_salt(),
        "sel": new_salt(),
        "lastModified": now,
        "version": version,
        "targets": [],
        "contextTargets": [],
        "rules": [],
        "fallthrough": {"variation": defaults.on_variation},
        "offVariation": defaults.off_variation,
        "prerequisites": [],
        "trackEvents": track_events,
        "trackEventsFallthrough": False,
    }


def validate_defaults(defaults: Defaults, variations: list[Variation]) -> None:
    for name, index in (("onVariation", defaults.on_variation), ("offVariation", defaults.off_variation)):
        if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < len(variations):
            raise InvalidRequest(f"defaults.{name} must be the index of one of the flag's variations")
