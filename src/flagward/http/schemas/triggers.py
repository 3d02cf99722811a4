"""Flag triggers: LaunchDarkly's ``triggerPost``, ``FlagTriggerInput``, ``TriggerWorkflowRep`` and
``TriggerWorkflowCollectionRep``."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from flagward.http.schemas.common import Body
from flagward.http.schemas.read_common import Links, Maybe, Read
from flagward.services.triggers import NewTrigger


class triggerPost(Body):  # noqa: N801  # LaunchDarkly's component name
    comment: Any = Field(default=None, description="Optional comment describing the trigger")
    instructions: Any = Field(
        default=None,
        description="The action to perform when triggering: an array with a single object, "
        '{"kind": "turnFlagOn"} or {"kind": "turnFlagOff"}',
    )
    integrationKey: Any = Field(
        description="The unique identifier of the integration for your trigger; generic-trigger for any other"
    )

    def to_domain(self) -> NewTrigger:
        return NewTrigger(integration_key=self.integrationKey, instructions=self.instructions, comment=self.comment)


class FlagTriggerInput(Body):
    comment: Any = Field(default=None, description="Optional comment describing the update")
    instructions: Any = Field(
        default=None,
        description="enableTrigger, disableTrigger, replaceTriggerActionInstructions (value: the new action), "
        "cycleTriggerUrl, updateTriggerComment (value: the comment)",
    )


class TriggerWorkflowRep(Read):
    id: str = Field(alias="_id")
    version: int = Field(alias="_version", description="The flag trigger version")
    creationDate: int = Field(alias="_creationDate")
    maintainerId: Maybe[str] = Field(default=None, alias="_maintainerId")
    enabled: bool = Field(description="Whether the flag trigger is currently enabled")
    integrationKey: str = Field(alias="_integrationKey")
    instructions: list[dict[str, Any]]
    lastTriggeredAt: Maybe[int] = Field(default=None, alias="_lastTriggeredAt")
    recentTriggerBodies: list[dict[str, Any]] = Field(
        alias="_recentTriggerBodies", description="flagward does not keep the bodies of trigger requests: empty"
    )
    triggerCount: int = Field(alias="_triggerCount", description="Number of times the trigger has been executed")
    triggerURL: str = Field(
        description="The unguessable URL for this flag trigger: in full only in the answer that created it "
        "or cycled it (cycleTriggerUrl), afterwards with its secret obscured but for its last four characters"
    )
    links: Links = Field(alias="_links")


class TriggerWorkflowCollectionRep(Read):
    items: list[TriggerWorkflowRep]
    links: Links = Field(alias="_links")
