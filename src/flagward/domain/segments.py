"""Segments: per-environment sets of contexts, referenced by flag rules through segmentMatch."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import NotRequired, TypedDict

from flagward.domain.flags import Clause


class SegmentTarget(TypedDict):
    contextKind: str
    values: list[str]


class SegmentRule(TypedDict):
    _id: str
    clauses: list[Clause]
    weight: NotRequired[int]  # 0..100000; absent means the rule matches everyone its clauses match
    bucketBy: NotRequired[str]
    rolloutContextKind: NotRequired[str]
    description: NotRequired[str]


@dataclass
class Segment:
    id: str
    project_key: str
    environment_key: str
    key: str
    name: str
    creation_date: int
    last_modified: int
    salt: str
    description: str = ""
    tags: list[str] = field(default_factory=list)
    included: list[str] = field(default_factory=list)  # user-kind keys
    excluded: list[str] = field(default_factory=list)
    included_contexts: list[SegmentTarget] = field(default_factory=list)  # other kinds
    excluded_contexts: list[SegmentTarget] = field(default_factory=list)
    rules: list[SegmentRule] = field(default_factory=list)
    unbounded: bool = False
    unbounded_context_kind: str | None = None
    generation: int = 1
    version: int = 1

    def clone(self) -> Segment:
        return copy.deepcopy(self)
