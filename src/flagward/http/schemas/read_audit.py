"""Response models: the audit log (LaunchDarkly's ``AuditLogEntryListingRep``, ``AuditLogEntryRep``,
``AuditLogEntryListingRepCollection``)."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from flagward.http.schemas.read_common import Links, Maybe, Read


class ResourceAccess(Read):
    action: Maybe[str] = None
    resource: Maybe[str] = None


class MemberDataRep(Read):
    """The member who made the change (flagward adds their ``role``)."""

    links: Maybe[Links] = Field(default=None, alias="_links")
    id: Maybe[str] = Field(default=None, alias="_id")
    email: Maybe[str] = None
    firstName: Maybe[str] = None
    lastName: Maybe[str] = None


class TokenSummary(Read):
    links: Maybe[Links] = Field(default=None, alias="_links")
    id: Maybe[str] = Field(default=None, alias="_id")
    name: Maybe[str] = None
    ending: Maybe[str] = None
    serviceToken: Maybe[bool] = None


class TargetResourceRep(Read):
    links: Maybe[Links] = Field(default=None, alias="_links")
    name: Maybe[str] = None
    resources: Maybe[list[str]] = None


class AuditLogEntryListingRep(Read):
    """An entry as the log lists it. flagward adds ``approvalRequestId`` (the request that made the change,
    if any) and ``hash`` (the entry's link in the tamper-evident chain)."""

    links: Links = Field(alias="_links")
    id: str = Field(alias="_id")
    accountId: str = Field(alias="_accountId")
    date: int
    accesses: list[ResourceAccess]
    kind: str
    name: str
    description: str
    shortDescription: str
    # Documented as a string but served as recorded: entries are immutable, and one recorded with a
    # comment of another type (before requests were checked for it) must still be listed.
    comment: Any = Field(default=None, json_schema_extra={"type": "string"})
    member: Maybe[MemberDataRep] = None
    token: Maybe[TokenSummary] = None
    titleVerb: Maybe[str] = None
    title: Maybe[str] = None
    target: Maybe[TargetResourceRep] = None
    approvalRequestId: Maybe[str] = None
    hash: Maybe[str] = None


class AuditLogEntryRep(AuditLogEntryListingRep):
    """One entry in full: the resource before and after the change, and the request that made it."""

    delta: Any = Field(default=None, description="The change as requested (a JSON patch, instructions…)")
    previousVersion: Any = Field(default=None, description="The resource before the change")
    currentVersion: Any = Field(default=None, description="The resource after the change")


class AuditLogEntryListingRepCollection(Read):
    items: list[AuditLogEntryListingRep]
    links: Links = Field(alias="_links")
