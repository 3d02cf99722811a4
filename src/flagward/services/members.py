"""Account members: invite (create), read, JSON-patch, delete. The last owner always remains."""

from __future__ import annotations

from dataclasses import dataclass, field

from flagward.domain import resources
from flagward.domain.accounts import Actor, Member, Role
from flagward.domain.audit import AuditAction
from flagward.domain.authorization import authorize, authorize_all
from flagward.domain.errors import Conflict, Forbidden, InvalidRequest, NotFound
from flagward.domain.ids import new_object_id
from flagward.domain.representations import member_document
from flagward.services._common import record_audit
from flagward.services.patching import apply_json_patch
from flagward.services.ports import Deps, MemberQuery, UnitOfWork
from flagward.services.roles import resolve_role_ids

MIN_PASSWORD_LENGTH = 10


@dataclass(frozen=True)
class NewMember:
    email: str
    role: Role = Role.READER
    first_name: str | None = None
    last_name: str | None = None
    password: str | None = None
    team_keys: list[str] = field(default_factory=list)
    custom_roles: list[str] = field(default_factory=list)  # keys or ids


def _check_grant(actor: Actor, role: Role) -> None:
    if role.rank > actor.role.rank:
        raise Forbidden(f"You cannot grant the role '{role}', which is above your own")


def load_member(uow: UnitOfWork, member_id: str) -> Member:
    member = uow.members.get(member_id)
    if member is None:
        raise NotFound(f"Unknown member '{member_id}'")
    return member


def valid_email(email: object) -> str:
    if not isinstance(email, str) or "@" not in email or email.strip() != email or len(email) > 320:
        raise InvalidRequest(f"email '{email}' is not a valid email address")
    return email


def create_members(deps: Deps, *, actor: Actor, new: list[NewMember]) -> list[Member]:
    """Add members (all or none). Raises Forbidden, InvalidRequest, Conflict (email in use)."""
    authorize(actor, "createMember", resources.member("*"))
    if not new:
        raise InvalidRequest("the body must list at least one member")
    emails = [valid_email(m.email).lower() for m in new]
    if len(set(emails)) != len(emails):
        raise InvalidRequest("the same email appears twice")
    with deps.uow() as uow:
        created = [add_member(uow, deps, actor, spec) for spec in new]
        uow.commit()
    return created


def add_member(uow: UnitOfWork, deps: Deps, actor: Actor, spec: NewMember) -> Member:
    """Add one member in the caller's transaction (the core of ``create_members``, whose checks of the
    whole list the caller has made): the grant, a free email, the teams, the audit entry."""
    _check_grant(actor, spec.role)
    if uow.members.get_by_email(spec.email) is not None:
        raise Conflict(f"A member with email '{spec.email}' already exists")
    keys = sorted(spec.team_keys)  # locked in one order, so two such requests cannot deadlock
    teams = [uow.teams.get(key, for_update=True) for key in keys]
    missing = [key for key, team in zip(keys, teams, strict=True) if team is None]
    if missing:
        raise InvalidRequest(f"unknown teamKeys: {', '.join(missing)}")
    member = Member(
        id=new_object_id(),
        email=spec.email,
        role=spec.role,
        creation_date=deps.clock.now_ms(),
        first_name=spec.first_name,
        last_name=spec.last_name,
        password_hash=_password_hash(deps, spec.password),
        team_keys=sorted(spec.team_keys),
        team_names={team.key: team.name for team in teams if team is not None},
        custom_role_ids=resolve_role_ids(uow, spec.custom_roles, field="customRoles"),
    )
    if member.custom_role_ids:
        authorize(actor, "updateCustomRole", resources.member(member.id))
    uow.members.add(member)
    for team in teams:
        assert team is not None
        team.member_ids.append(member.id)
        uow.teams.update(team)
    record_audit(
        uow,
        deps.clock,
        actor,
        kind="member",
        name=member.email,
        actions=[AuditAction.CREATE_MEMBER],
        resource=resources.member(member.id),
        title_verb="added",
        description=f"Added member {member.email} with role {member.role}",
        current=member_document(member),
    )
    return member


def _password_hash(deps: Deps, password: str | None) -> str | None:
    if password is None:
        return None
    if not isinstance(password, str) or len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidRequest(f"password must be at least {MIN_PASSWORD_LENGTH} characters")
    return deps.passwords.hash(password)


def get_member(deps: Deps, *, actor: Actor, member_id: str) -> Member:
    authorize(actor, "viewMember", resources.member(member_id))
    with deps.uow(write=False) as uow:
        return load_member(uow, member_id)


def list_members(deps: Deps, *, actor: Actor, query: MemberQuery) -> tuple[list[Member], int]:
    authorize(actor, "viewMember", resources.member("*"))
    with deps.uow(write=False) as uow:
        return uow.members.find(query)


_WRITABLE = ("role", "firstName", "lastName", "emailNotifications", "customRoles")


def patch_member(deps: Deps, *, actor: Actor, member_id: str, patch: object) -> Member:
    """JSON patch on role, firstName, lastName and emailNotifications (flagward's own). Nobody can demote
    the last owner. Members may change their own emailNotifications whatever their role (every built-in
    role allows ``updateEmailNotifications`` on the member itself). Each changed field is authorized as its
    action on ``member/<id>``: ``updateRole``, flagward's ``updateMemberName`` and ``updateEmailNotifications``."""
    with deps.uow() as uow:
        uow.members.lock_owners()  # before reading: "the last owner" must still be true at commit
        member = load_member(uow, member_id)
        if member.role.rank > actor.role.rank:
            raise Forbidden("You cannot change a member whose role is above your own")
        before = member_document(member)
        # Unset names are absent from the document; present them as null so "replace" can set them.
        patchable = {"firstName": None, "lastName": None, **before}
        after = apply_json_patch(patchable, patch, writable=_WRITABLE)
        role = Role.parse(after.get("role"))
        _check_grant(actor, role)
        if member.role is Role.OWNER and role is not Role.OWNER and uow.members.count_owners() <= 1:
            raise InvalidRequest("You cannot change the role of the account's last owner")
        for name in ("firstName", "lastName"):
            if after.get(name) is not None and not isinstance(after[name], str):
                raise InvalidRequest(f"{name} must be a string")
        if not isinstance(after.get("emailNotifications"), bool):
            raise InvalidRequest("emailNotifications must be true or false")
        custom_role_ids = resolve_role_ids(uow, after.get("customRoles"), field="customRoles")
        changed_custom_roles = custom_role_ids != member.custom_role_ids
        # A patch that changes nothing still answers the member: at least viewing it must be allowed.
        actions = member_patch_actions(before, after) or ([] if changed_custom_roles else ["viewMember"])
        authorize_all(actor, [(a, resources.member(member.id)) for a in actions])
        if changed_custom_roles:
            authorize(actor, "updateCustomRole", resources.member(member.id))
            member.custom_role_ids = custom_role_ids
        changed_role = role is not member.role
        member.role = role
        member.first_name = after.get("firstName")
        member.last_name = after.get("lastName")
        member.email_notifications = after["emailNotifications"]
        if member_document(member) != before:
            member.version += 1
            uow.members.update(member)
            record_audit(
                uow,
                deps.clock,
                actor,
                kind="member",
                name=member.email,
                actions=_patch_actions(changed_role, changed_custom_roles),
                resource=resources.member(member.id),
                title_verb="updated",
                description=f"Updated member {member.email}",
                previous=before,
                current=member_document(member),
            )
        uow.commit()
    return member


_MEMBER_FIELD_ACTIONS = (
    ("role", "updateRole"),
    ("firstName", "updateMemberName"),
    ("lastName", "updateMemberName"),
    ("emailNotifications", "updateEmailNotifications"),
)


def member_patch_actions(before: dict[str, object], after: dict[str, object]) -> list[str]:
    """The actions a member patch performs: one per changed field (names are flagward's ``updateMemberName``)."""
    return list(dict.fromkeys(a for name, a in _MEMBER_FIELD_ACTIONS if before.get(name) != after.get(name)))


def _patch_actions(changed_role: bool, changed_custom_roles: bool) -> list[AuditAction]:
    actions = [AuditAction.UPDATE_MEMBER_ROLE] if changed_role else []
    actions += [AuditAction.UPDATE_MEMBER_CUSTOM_ROLES] if changed_custom_roles else []
    return actions or [AuditAction.UPDATE_MEMBER]


def delete_member(deps: Deps, *, actor: Actor, member_id: str) -> None:
    """Remove a member with their personal tokens and sessions. The last owner cannot be removed."""
    authorize(actor, "deleteMember", resources.member(member_id))
    with deps.uow() as uow:
        uow.members.lock_owners()  # before reading: "the last owner" must still be true at commit
        member = load_member(uow, member_id)
        if member.role.rank > actor.role.rank:
            raise Forbidden("You cannot remove a member whose role is above your own")
        if member.role is Role.OWNER and uow.members.count_owners() <= 1:
            raise InvalidRequest("You cannot remove the account's last owner")
        uow.tokens.delete_for_member(member.id)
        uow.sessions.delete_for_member(member.id)
        uow.invitations.delete_for_member(member.id)
        uow.members.delete(member)
        record_audit(
            uow,
            deps.clock,
            actor,
            kind="member",
            name=member.email,
            actions=[AuditAction.DELETE_MEMBER],
            resource=resources.member(member.id),
            title_verb="removed",
            description=f"Removed member {member.email}",
            previous=member_document(member),
        )
        uow.commit()


def set_password(deps: Deps, *, actor: Actor, email: str, password: str) -> Member:
    """Set a member's sign-in password (the CLI's ``members set-password``, run on the server host).

    Other sessions of the member end. Raises NotFound, InvalidRequest (too short)."""
    with deps.uow() as uow:
        member = uow.members.get_by_email(email)
        if member is None:
            raise NotFound(f"No member has the email '{email}'")
        store_password(uow, deps, actor, member, password, how="")
        uow.commit()
    return member


def store_password(uow: UnitOfWork, deps: Deps, actor: Actor, member: Member, password: str, *, how: str) -> None:
    """The core of ``set_password`` in the caller's transaction: hash, end the member's sessions, and
    the audit entry (``how`` ends its description, e.g. " through an invitation link")."""
    member.password_hash = _password_hash(deps, password)
    member.version += 1
    uow.members.update(member)
    uow.sessions.delete_for_member(member.id)
    uow.invitations.delete_for_member(member.id)  # a password set by any way ends the member's open links
    record_audit(
        uow,
        deps.clock,
        actor,
        kind="member",
        name=member.email,
        actions=[AuditAction.UPDATE_MEMBER],
        resource=resources.member(member.id),
        title_verb="updated",
        description=f"Set the password of member {member.email}{how}",
    )
