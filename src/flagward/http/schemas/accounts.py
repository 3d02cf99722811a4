from __future__ import annotations

from pydantic import Field, StrictBool, StrictInt, StrictStr

from flagward.domain.accounts import Role
from flagward.http.schemas.common import Body
from flagward.services.members import NewMember
from flagward.services.teams import NewTeam
from flagward.services.tokens import NewToken


class NewMemberForm(Body):
    email: StrictStr
    password: StrictStr | None = None
    firstName: StrictStr | None = None
    lastName: StrictStr | None = None
    role: StrictStr = "reader"
    customRoles: list[StrictStr] = Field(default_factory=list)
    teamKeys: list[StrictStr] = Field(default_factory=list)

    def to_domain(self) -> NewMember:
        return NewMember(
            email=self.email,
            role=Role.parse(self.role),
            first_name=self.firstName,
            last_name=self.lastName,
            password=self.password,
            team_keys=list(self.teamKeys),
            custom_roles=list(self.customRoles),
        )


class TeamPostInput(Body):
    key: StrictStr
    name: StrictStr
    description: StrictStr | None = None
    memberIDs: list[StrictStr] = Field(default_factory=list)
    customRoleKeys: list[StrictStr] = Field(default_factory=list)

    def to_domain(self) -> NewTeam:
        return NewTeam(
            key=self.key,
            name=self.name,
            description=self.description,
            member_ids=list(self.memberIDs),
            custom_role_keys=list(self.customRoleKeys),
        )


class AccessTokenPost(Body):
    name: StrictStr | None = None
    description: StrictStr | None = None
    role: StrictStr = "reader"
    customRoleIds: list[StrictStr] = Field(default_factory=list)
    inlineRole: list[dict[str, object]] = Field(default_factory=list)
    serviceToken: StrictBool = False
    defaultApiVersion: StrictInt = 20240415

    def to_domain(self) -> NewToken:
        return NewToken(
            name=self.name,
            description=self.description,
            role=Role.parse(self.role),
            service_token=self.serviceToken,
            default_api_version=self.defaultApiVersion,
            custom_role_ids=tuple(self.customRoleIds),
            inline_role=tuple(self.inlineRole),
        )


class LoginBody(Body):
    email: StrictStr
    password: StrictStr
