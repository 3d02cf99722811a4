"""Members, teams, access tokens and the actor a request acts as."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from enum import StrEnum

from flagward.domain.access import Access
from flagward.domain.errors import InvalidRequest
from flagward.domain.policy import Statement


class Role(StrEnum):
    """LaunchDarkly's built-in base roles, weakest first."""

    NO_ACCESS = "no_access"
    READER = "reader"
    WRITER = "writer"
    ADMIN = "admin"
    OWNER = "owner"

    @property
    def rank(self) -> int:
        return _RANK[self]

    @classmethod
    def parse(cls, value: object, *, field: str = "role") -> Role:
        try:
            return cls(str(value))
        except ValueError:
            allowed = ", ".join(r.value for r in cls)
            raise InvalidRequest(f"{field} must be one of {allowed}") from None


_RANK = {Role.NO_ACCESS: 0, Role.READER: 1, Role.WRITER: 2, Role.ADMIN: 3, Role.OWNER: 4}
TOKEN_ROLES = (Role.READER, Role.WRITER, Role.ADMIN)


def weaker(a: Role, b: Role) -> Role:
    return a if a.rank <= b.rank else b


@dataclass
class Member:
    id: str
    email: str
    role: Role
    creation_date: int
    first_name: str | None = None
    last_name: str | None = None
    password_hash: str | None = None
    last_seen: int | None = None
    version: int = 1
    # flagward's own: whether approval-request notifications are also e-mailed (``emailNotifications``).
    email_notifications: bool = True
    team_keys: list[str] = field(default_factory=list)
    team_names: dict[str, str] = field(default_factory=dict)  # team key -> name, where loaded
    custom_role_ids: list[str] = field(default_factory=list)  # LaunchDarkly's ``customRoles``: role ids
    team_role_keys: dict[str, list[str]] = field(default_factory=dict)  # team key -> its role keys, where loaded
    maintained_team_keys: list[str] = field(default_factory=list)  # teams this member maintains, where loaded


@dataclass(frozen=True)
class MemberContact:
    """What telling a member something needs: who it is and where to write (not what it may do)."""

    id: str
    email: str
    first_name: str | None = None
    last_name: str | None = None
    email_notifications: bool = True

    @property
    def display_name(self) -> str:
        return " ".join(n for n in (self.first_name, self.last_name) if n) or self.email


@dataclass
class Team:
    id: str
    key: str
    name: str
    creation_date: int
    last_modified: int
    description: str | None = None
    member_ids: list[str] = field(default_factory=list)
    version: int = 1
    custom_role_keys: list[str] = field(default_factory=list)  # LaunchDarkly's ``customRoleKeys``
    maintainer_ids: list[str] = field(default_factory=list)  # members who may maintain the team


@dataclass
class AccessToken:
    """An API access token. Only a hash of the secret is ever kept; ``last4`` is shown instead."""

    id: str
    owner_id: str
    name: str | None
    role: Role
    service_token: bool
    token_hash: str
    last4: str
    creation_date: int
    last_modified: int
    description: str | None = None
    default_api_version: int = 20240415
    last_used: int | None = None
    member_id: str | None = None  # personal tokens act as this member
    # Instead of ``role``: the token acts with these custom roles (ids), or with its own inline policy.
    custom_role_ids: list[str] = field(default_factory=list)
    inline_role: tuple[Statement, ...] | None = None


class ActorKind(StrEnum):
    PERSONAL_TOKEN = "personal"
    SERVICE_TOKEN = "service"
    SESSION = "session"
    SYSTEM = "system"  # the server itself, e.g. the scheduler


@dataclass(frozen=True)
class Actor:
    """Who performs a use case, with the role that is in force for this request.

    A personal token acts as its member with the weaker of the token's and the member's role; a service
    token acts as itself; a session acts as its member. ``access`` is the effective access that
    ``domain.authorization`` evaluates (built by ``services.auth``; None: the built-in ``role``'s policy).
    ``role`` stays the base role: audit entries name it and role grants are compared by its rank.
    """

    kind: ActorKind
    role: Role
    member_id: str | None = None
    token_id: str | None = None
    token_name: str | None = None
    token_ending: str | None = None
    member_email: str | None = None
    owner_id: str | None = None  # for service tokens: the member who created the token
    default_api_version: int | None = None  # the token's, used when a request names no LD-API-Version
    access: Access | None = field(default=None, compare=False, repr=False)

    @property
    def is_service_token(self) -> bool:
        return self.kind is ActorKind.SERVICE_TOKEN


SYSTEM_ACTOR = Actor(kind=ActorKind.SYSTEM, role=Role.OWNER)


def hash_token(secret: str) -> str:
    """Tokens are long random secrets, so a fast unsalted digest is enough to keep them unrecoverable."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()
