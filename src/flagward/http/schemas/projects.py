from __future__ import annotations

from pydantic import Field, StrictBool, StrictInt, StrictStr

from flagward.http.schemas.common import Body, ClientSideAvailabilityIn
from flagward.services.environments import NewEnvironment
from flagward.services.projects import NewProject


class EnvironmentPost(Body):
    key: StrictStr
    name: StrictStr
    color: StrictStr
    defaultTtl: StrictInt = 0
    secureMode: StrictBool = False
    defaultTrackEvents: StrictBool = False
    confirmChanges: StrictBool = False
    requireComments: StrictBool = False
    tags: list[StrictStr] = Field(default_factory=list)
    critical: StrictBool = False

    def to_domain(self) -> NewEnvironment:
        return NewEnvironment(
            key=self.key,
            name=self.name,
            color=self.color,
            default_ttl=self.defaultTtl,
            secure_mode=self.secureMode,
            default_track_events=self.defaultTrackEvents,
            confirm_changes=self.confirmChanges,
            require_comments=self.requireComments,
            tags=list(self.tags),
            critical=self.critical,
        )


class ProjectPost(Body):
    key: StrictStr
    name: StrictStr
    tags: list[StrictStr] = Field(default_factory=list)
    includeInSnippetByDefault: StrictBool | None = None
    defaultClientSideAvailability: ClientSideAvailabilityIn | None = None
    environments: list[EnvironmentPost] | None = None

    def to_domain(self) -> NewProject:
        csa = self.defaultClientSideAvailability
        return NewProject(
            key=self.key,
            name=self.name,
            tags=list(self.tags),
            include_in_snippet_by_default=self.includeInSnippetByDefault,
            default_client_side_availability=csa.to_domain() if csa else None,
            environments=[e.to_domain() for e in self.environments] if self.environments is not None else None,
        )
