from __future__ import annotations

from pydantic import BaseModel, ConfigDict, StrictBool, StrictStr

from flagward.domain.projects import ClientSideAvailability


class Body(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)


class ClientSideAvailabilityIn(Body):
    usingEnvironmentId: StrictBool = False
    usingMobileKey: StrictBool = True

    def to_domain(self) -> ClientSideAvailability:
        return ClientSideAvailability(
            using_mobile_key=self.usingMobileKey, using_environment_id=self.usingEnvironmentId
        )


class CommentOnly(Body):
    comment: StrictStr | None = None
