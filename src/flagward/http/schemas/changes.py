from __future__ import annotations

from pydantic import Field, StrictBool, StrictInt, StrictStr

from flagward.domain.copy import CopyAction, parse_actions
from flagward.http.schemas.common import Body
from flagward.services.copy import CopyEnd
from flagward.services.segments import NewSegment


class FlagCopyConfigEnvironment(Body):
    key: StrictStr
    currentVersion: StrictInt | None = None

    def to_domain(self) -> CopyEnd:
        return CopyEnd(key=self.key, current_version=self.currentVersion)


class FlagCopyConfigPost(Body):
    source: FlagCopyConfigEnvironment
    target: FlagCopyConfigEnvironment
    comment: StrictStr | None = None
    includedActions: list[StrictStr] | None = None
    excludedActions: list[StrictStr] | None = None

    def actions(self) -> tuple[list[CopyAction] | None, list[CopyAction] | None]:
        included = (
            parse_actions(self.includedActions, "includedActions", CopyAction)
            if self.includedActions is not None
            else None
        )
        excluded = (
            parse_actions(self.excludedActions, "excludedActions", CopyAction)
            if self.excludedActions is not None
            else None
        )
        return included, excluded


class SegmentBody(Body):
    key: StrictStr
    name: StrictStr
    description: StrictStr = ""
    tags: list[StrictStr] = Field(default_factory=list)
    unbounded: StrictBool = False
    unboundedContextKind: StrictStr | None = None

    def to_domain(self) -> NewSegment:
        return NewSegment(
            key=self.key, name=self.name, description=self.description, tags=list(self.tags), unbounded=self.unbounded
        )
