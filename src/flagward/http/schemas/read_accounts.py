"""Response models: account members, teams, access tokens and the caller's identity (LaunchDarkly's
``Member``, ``Members``, ``Team``, ``Teams``, ``TeamImportsRep``, ``Token``, ``Tokens``,
``CallerIdentityRep``)."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from flagward.http.schemas.read_common import Access, Links, Maybe, MemberSummary, Read


class MemberTeamSummaryRep(Read):
    customRoleKeys: list[str]
    key: str
    links: Maybe[Links] = Field(default=None, alias="_links")
    name: str


class Member(Read):
    links: Links = Field(alias="_links")
    id: str = Field(alias="_id")
    firstName: Maybe[str] = None
    lastName: Maybe[str] = None
    role: str
    email: str
    pendingInvite: bool = Field(alias="_pendingInvite")
    verified: bool = Field(alias="_verified")
    customRoles: list[str]
    mfa: str
    excludedDashboards: Maybe[list[str]] = None
    lastSeen: int = Field(alias="_lastSeen")
    teams: Maybe[list[MemberTeamSummaryRep]] = None
    permissionGrants: Maybe[list[dict[str, Any]]] = None
    creationDate: int
    emailNotifications: Maybe[bool] = Field(
        default=None,
        description="flagward's own: whether approval-request notifications are also e-mailed to the member "
        "(they always appear in /api/v2/notifications). A member may change their own with PATCH "
        '[{"op": "replace", "path": "/emailNotifications", "value": false}].',
    )


class Members(Read):
    items: list[Member]
    links: Links = Field(alias="_links")
    totalCount: Maybe[int] = None


class TeamMembers(Read):
    totalCount: Maybe[int] = None


class TeamCustomRole(Read):
    key: Maybe[str] = None
    name: Maybe[str] = None
    appliedOn: Maybe[int] = None


class TeamCustomRoles(Read):
    totalCount: Maybe[int] = None
    items: Maybe[list[TeamCustomRole]] = None
    links: Maybe[Links] = Field(default=None, alias="_links")


class TeamMaintainers(Read):
    totalCount: Maybe[int] = None
    items: Maybe[list[MemberSummary]] = None
    links: Maybe[Links] = Field(default=None, alias="_links")


class Team(Read):
    """A team; ``members`` (its member count) only with ``expand=members``."""

    description: Maybe[str] = None
    key: Maybe[str] = None
    name: Maybe[str] = None
    access: Maybe[Access] = Field(default=None, alias="_access")
    creationDate: Maybe[int] = Field(default=None, alias="_creationDate")
    links: Maybe[Links] = Field(default=None, alias="_links")
    lastModified: Maybe[int] = Field(default=None, alias="_lastModified")
    version: Maybe[int] = Field(default=None, alias="_version")
    idpSynced: Maybe[bool] = Field(default=None, alias="_idpSynced")
    members: Maybe[TeamMembers] = None
    roles: Maybe[TeamCustomRoles] = Field(default=None, description="With expand=roles: the team's custom roles")
    maintainers: Maybe[TeamMaintainers] = Field(default=None, description="With expand=maintainers: their count")


class Teams(Read):
    items: list[Team]
    links: Maybe[Links] = Field(default=None, alias="_links")
    totalCount: Maybe[int] = None


class MemberImportItem(Read):
    memberId: Maybe[str] = None
    message: Maybe[str] = None
    status: str
    value: str


class TeamImportsRep(Read):
    """The outcome of adding members to a team by e-mail, one item per address (207 if any failed)."""

    items: Maybe[list[MemberImportItem]] = None


class Token(Read):
    """An access token. ``token`` is the full secret only in the answer to create and reset; elsewhere
    its last four characters."""

    id: str = Field(alias="_id")
    ownerId: str
    memberId: str
    member: Maybe[MemberSummary] = Field(default=None, alias="_member")
    name: Maybe[str] = None
    description: Maybe[str] = None
    creationDate: int
    lastModified: int
    customRoleIds: Maybe[list[str]] = None
    inlineRole: Maybe[list[dict[str, Any]]] = None
    role: Maybe[str] = None
    token: Maybe[str] = None
    serviceToken: Maybe[bool] = None
    links: Links = Field(alias="_links")
    defaultApiVersion: Maybe[int] = None
    lastUsed: Maybe[int] = None


class Tokens(Read):
    items: Maybe[list[Token]] = None
    links: Maybe[Links] = Field(default=None, alias="_links")
    totalCount: Maybe[int] = None


class CallerIdentityRep(Read):
    accountId: Maybe[str] = None
    environmentId: Maybe[str] = None
    projectId: Maybe[str] = None
    environmentName: Maybe[str] = None
    projectName: Maybe[str] = None
    authKind: Maybe[str] = None
    tokenKind: Maybe[str] = None
    clientId: Maybe[str] = None
    tokenName: Maybe[str] = None
    tokenId: Maybe[str] = None
    memberId: Maybe[str] = None
    serviceToken: Maybe[bool] = None
    scopes: Maybe[list[str]] = None
