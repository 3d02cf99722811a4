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
    """Every field optional, as in LaunchDarkly's document; flagward sends all of them but
    ``_maintainerId`` (a service token's trigger has none) and ``_lastTriggeredAt`` (never fired)."""

    id: Maybe[str] = Field(default=None, alias="_id")
    version: Maybe[int] = Field(default=None, alias="_version", description="The flag trigger version")
    creationDate: Maybe[int] = Field(default=None, alias="_creationDate")
    maintainerId: Maybe[str] = Field(default=None, alias="_maintainerId")
    enabled: Maybe[bool] = Field(default=None, description="Whether the flag trigger is currently enabled")
    integrationKey: Maybe[str] = Field(default=None, alias="_integrationKey")
    instructions: Maybe[list[dict[str, Any]]] = None
    lastTriggeredAt: Maybe[int] = Field(default=None, alias="_lastTriggeredAt")
    recentTriggerBodies: Maybe[list[dict[str, Any]]] = Field(
        default=None,
        alias="_recentTriggerBodies",
        description="flagward does not keep the bodies of trigger requests: empty",
    )
    triggerCount: Maybe[int] = Field(
        default=None, alias="_triggerCount", description="Number of times the trigger has been executed"
    )
    triggerURL: Maybe[str] = Field(
        default=None,
        description="The unguessable URL for this flag trigger: in full only in the answer that created it "
        "or cycled it (cycleTriggerUrl), afterwards with its secret obscured but for its last four characters",
    )
    links: Maybe[Links] = Field(default=None, alias="_links")


class TriggerWorkflowCollectionRep(Read):
    items: Maybe[list[TriggerWorkflowRep]] = None
    links: Maybe[Links] = Field(default=None, alias="_links")
