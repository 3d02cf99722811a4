"""Custom roles: LaunchDarkly's ``CustomRolePost``, ``CustomRole``, ``CustomRoles``, ``MemberTeamsPostInput`` and
``BulkEditMembersRep`` (the team's ``TeamCustomRoles`` lives with the team, in ``read_accounts``)."""

from __future__ import annotations

from pydantic import Field, StrictStr

from flagward.http.schemas.common import Body
from flagward.http.schemas.read_common import Access, Links, Maybe, Read
from flagward.http.schemas.webhooks import Statement, StatementPost
from flagward.services.roles import NewRole


class CustomRolePost(Body):
    name: StrictStr = Field(description="A human-friendly name for the custom role")
    key: StrictStr = Field(description="The custom role key")
    description: StrictStr | None = Field(default=None, description="Description of custom role")
    policy: list[StatementPost] = Field(description="The role's statements (at least one)")
    basePermissions: StrictStr | None = Field(
        default=None, description="The base role a member holding only custom roles starts from: reader or no_access"
    )
    resourceCategory: StrictStr | None = None

    def to_domain(self) -> NewRole:
        return NewRole(
            key=self.key,
            name=self.name,
            description=self.description,
            policy=[s.model_dump(exclude_none=True) for s in self.policy],
            base_permissions=self.basePermissions,
        )


class AssignedToRep(Read):
    membersCount: Maybe[int] = None
    teamsCount: Maybe[int] = None


class CustomRole(Read):
    id: str = Field(alias="_id")
    links: Links = Field(alias="_links")
    access: Maybe[Access] = Field(default=None, alias="_access")
    description: Maybe[str] = None
    key: str
    name: str
    policy: list[Statement]
    basePermissions: Maybe[str] = None
    assignedTo: Maybe[AssignedToRep] = None


class CustomRoles(Read):
    links: Maybe[Links] = Field(default=None, alias="_links")
    items: list[CustomRole]
    totalCount: Maybe[int] = None


class MemberTeamsPostInput(Body):
    teamKeys: list[StrictStr] = Field(description="List of team keys")


class BulkEditMembersRep(Read):
    members: Maybe[list[str]] = None
    errors: Maybe[list[dict[str, str]]] = None
