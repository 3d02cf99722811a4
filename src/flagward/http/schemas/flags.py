from __future__ import annotations

from typing import Any

from pydantic import Field, StrictBool, StrictInt, StrictStr

from flagward.domain.flags import Defaults
from flagward.http.schemas.common import Body, ClientSideAvailabilityIn
from flagward.services.flags import NewFlag


class VariationIn(Body):
    value: Any
    name: StrictStr | None = None
    description: StrictStr | None = None


class CustomPropertyIn(Body):
    """LaunchDarkly's ``CustomProperty``: the official client cannot read back any other shape."""

    name: StrictStr
    value: list[StrictStr]


class DefaultsIn(Body):
    onVariation: StrictInt
    offVariation: StrictInt


class FeatureFlagBody(Body):
    key: StrictStr
    name: StrictStr
    description: StrictStr = ""
    includeInSnippet: StrictBool | None = None
    clientSideAvailability: ClientSideAvailabilityIn | None = None
    variations: list[VariationIn] | None = None
    temporary: StrictBool = True
    tags: list[StrictStr] = Field(default_factory=list)
    customProperties: dict[str, CustomPropertyIn] = Field(default_factory=dict)
    defaults: DefaultsIn | None = None
    maintainerId: StrictStr | None = None
    maintainerTeamKey: StrictStr | None = None
    isFlagOn: StrictBool = False

    def to_domain(self) -> NewFlag:
        return NewFlag(
            key=self.key,
            name=self.name,
            description=self.description,
            variations=[v.model_dump(exclude_none=True) for v in self.variations] if self.variations else None,
            defaults=Defaults(self.defaults.onVariation, self.defaults.offVariation) if self.defaults else None,
            temporary=self.temporary,
            tags=list(self.tags),
            client_side_availability=self.clientSideAvailability.to_domain() if self.clientSideAvailability else None,
            include_in_snippet=self.includeInSnippet,
            maintainer_id=self.maintainerId,
            maintainer_team_key=self.maintainerTeamKey,
            custom_properties={key: prop.model_dump() for key, prop in self.customProperties.items()},
            is_flag_on=self.isFlagOn,
        )
