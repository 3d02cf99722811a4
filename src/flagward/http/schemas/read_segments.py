"""Response models: segments (LaunchDarkly's ``UserSegment``, ``UserSegments``)."""

from __future__ import annotations

from pydantic import Field

from flagward.http.schemas.read_common import Access, Links, Maybe, Read
from flagward.http.schemas.read_flags import Clause, FlagListingRep


class SegmentTarget(Read):
    values: Maybe[list[str]] = None
    contextKind: Maybe[str] = None


class UserSegmentRule(Read):
    id: Maybe[str] = Field(default=None, alias="_id")
    clauses: list[Clause]
    weight: Maybe[int] = None
    rolloutContextKind: Maybe[str] = None
    bucketBy: Maybe[str] = None
    description: Maybe[str] = None


class UserSegment(Read):
    """A segment. ``_flags`` (the flags whose rules name it) only on create and get. ``salt``, outside
    LaunchDarkly's schema, is served too: SDK payloads need it and clients ignore it."""

    name: str
    description: Maybe[str] = None
    tags: list[str]
    creationDate: int
    lastModifiedDate: int
    key: str
    included: Maybe[list[str]] = None
    excluded: Maybe[list[str]] = None
    includedContexts: Maybe[list[SegmentTarget]] = None
    excludedContexts: Maybe[list[SegmentTarget]] = None
    links: Links = Field(alias="_links")
    rules: list[UserSegmentRule]
    version: int
    deleted: bool
    access: Maybe[Access] = Field(default=None, alias="_access")
    flags: Maybe[list[FlagListingRep]] = Field(default=None, alias="_flags")
    unbounded: Maybe[bool] = None
    unboundedContextKind: Maybe[str] = None
    generation: int
    salt: Maybe[str] = None


class UserSegments(Read):
    items: list[UserSegment]
    links: Links = Field(alias="_links")
    totalCount: Maybe[int] = None
