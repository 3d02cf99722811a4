"""Response models: feature flags and their per-environment targeting (LaunchDarkly's ``FeatureFlag``,
``FeatureFlags``, ``FeatureFlagConfig`` and the rule tree beneath it)."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from flagward.http.schemas.read_common import Access, ClientSideAvailability, Link, Links, Maybe, MemberSummary, Read


class Variation(Read):
    id: Maybe[str] = Field(default=None, alias="_id")
    value: Any = Field(description="Any JSON value (a boolean, string, number, array or object)")
    description: Maybe[str] = None
    name: Maybe[str] = None


class Defaults(Read):
    onVariation: int
    offVariation: int


class CustomProperty(Read):
    name: str
    value: list[str]


class ExperimentInfoRep(Read):
    baselineIdx: int
    items: list[dict[str, Any]]


class Clause(Read):
    id: Maybe[str] = Field(default=None, alias="_id")
    attribute: str
    op: str
    values: list[Any] = Field(description="JSON values the attribute is compared with")
    contextKind: Maybe[str] = None
    negate: bool


class WeightedVariation(Read):
    variation: int
    weight: int
    untracked: Maybe[bool] = Field(default=None, alias="_untracked")


class Rollout(Read):
    variations: list[WeightedVariation]
    experimentAllocation: Maybe[dict[str, Any]] = None
    seed: Maybe[int] = None
    bucketBy: Maybe[str] = None
    contextKind: Maybe[str] = None


class VariationOrRolloutRep(Read):
    variation: Maybe[int] = None
    rollout: Maybe[Rollout] = None


class Rule(Read):
    id: Maybe[str] = Field(default=None, alias="_id")
    disabled: Maybe[bool] = None
    variation: Maybe[int] = None
    rollout: Maybe[Rollout] = None
    clauses: list[Clause]
    trackEvents: bool
    description: Maybe[str] = None
    ref: Maybe[str] = None


class Target(Read):
    values: list[str]
    variation: int
    contextKind: Maybe[str] = None


class Prerequisite(Read):
    key: str
    variation: int


class VariationSummary(Read):
    rules: int
    nullRules: int
    targets: int
    contextTargets: int
    isFallthrough: Maybe[bool] = None
    isOff: Maybe[bool] = None
    rollout: Maybe[int] = None
    bucketBy: Maybe[str] = None


class FlagSummary(Read):
    variations: dict[str, VariationSummary]
    prerequisites: int


class FeatureFlagConfig(Read):
    """One environment's targeting. A summary (the flag list's default) leaves out targets,
    contextTargets, rules and prerequisites."""

    on: bool
    archived: bool
    salt: str
    sel: str
    lastModified: int
    version: int
    targets: Maybe[list[Target]] = None
    contextTargets: Maybe[list[Target]] = None
    rules: Maybe[list[Rule]] = None
    fallthrough: Maybe[VariationOrRolloutRep] = None
    offVariation: Maybe[int] = None
    prerequisites: Maybe[list[Prerequisite]] = None
    site: Link = Field(alias="_site")
    access: Maybe[Access] = Field(default=None, alias="_access")
    environmentName: str = Field(alias="_environmentName")
    trackEvents: bool
    trackEventsFallthrough: bool
    debugEventsUntilDate: Maybe[int] = Field(default=None, alias="_debugEventsUntilDate")
    summary: Maybe[FlagSummary] = Field(default=None, alias="_summary")
    migrationSettings: Maybe[dict[str, Any]] = None


class _FlagBase(Read):
    """The fields LaunchDarkly's ``FeatureFlag`` shares with the flag an approval request expands."""

    name: str
    kind: str
    description: Maybe[str] = None
    key: str
    version: int = Field(alias="_version")
    creationDate: int
    includeInSnippet: Maybe[bool] = None
    clientSideAvailability: Maybe[ClientSideAvailability] = None
    variations: list[Variation]
    temporary: bool
    tags: list[str]
    links: Links = Field(alias="_links")
    maintainerId: Maybe[str] = None
    maintainer: Maybe[MemberSummary] = Field(default=None, alias="_maintainer")
    customProperties: dict[str, CustomProperty]
    archived: bool
    archivedDate: Maybe[int] = None
    defaults: Maybe[Defaults] = None


class FeatureFlag(_FlagBase):
    """A flag. ``environments`` holds the configurations asked for; since API version 20240415 the flag
    list carries it only when filtered by environment."""

    maintainerTeamKey: Maybe[str] = None
    goalIds: Maybe[list[str]] = None
    experiments: ExperimentInfoRep
    deprecated: Maybe[bool] = None
    deprecatedDate: Maybe[int] = None
    environments: Maybe[dict[str, FeatureFlagConfig]] = None


class ExpandedFlagRep(_FlagBase):
    """The flag an approval request changes, as its ``flag`` expansion shows it (no environments)."""


class FeatureFlags(Read):
    items: list[FeatureFlag]
    links: Links = Field(alias="_links")
    totalCount: Maybe[int] = None
    totalCountWithDifferences: Maybe[int] = None


class FlagListingRep(Read):
    """A flag named by another resource (a segment's ``_flags``)."""

    name: str
    key: str
    links: Maybe[Links] = Field(default=None, alias="_links")
    site: Maybe[Link] = Field(default=None, alias="_site")


class FeatureFlagStatus(Read):
    """When SDKs last evaluated the flag in one environment, and LaunchDarkly's name for its state."""

    name: str
    lastRequested: Maybe[str] = Field(default=None, description="RFC 3339 date of the last evaluation")
    default: Any = Field(default=None, description="The fallback value SDKs last used (any JSON value)")


class FlagStatusRep(FeatureFlagStatus):
    links: Links = Field(alias="_links")


class FeatureFlagStatuses(Read):
    links: Links = Field(alias="_links")
    items: Maybe[list[FlagStatusRep]] = None


class FeatureFlagStatusAcrossEnvironments(Read):
    environments: dict[str, FeatureFlagStatus]
    key: str
    links: Links = Field(alias="_links")
