"""Giving roles and teams to members: LaunchDarkly's bulk member patch (``PATCH /api/v2/members``), a
member joining teams (``POST /api/v2/members/{id}/teams``) and a team's roles (``getTeamRoles``).

The bulk patch is atomic, unlike LaunchDarkly's (which applies what it can and lists per-member errors):
a member that cannot be changed (unknown, above the caller, the caller itself, the last owner) fails the
whole request with 400 naming each such member, and nothing is written. The success answer has
LaunchDarkly's shape (``members`` changed, ``errors`` empty).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flagward.domain import resources
from flagward.domain.accounts import Actor, Member, Role
from flagward.domain.audit import AuditAction
from flagward.domain.authorization import authorize
from flagward.domain.errors import Forbidden, InstructionError, InvalidRequest, NotFound
from flagward.domain.representations import member_document
from flagward.domain.roles import CustomRole
from flagward.services._common import record_audit
from flagward.services.ports import Deps, MemberQuery, Page, UnitOfWork
from flagward.services.roles import resolve_role_ids
from flagward.services.teams import audit_document, load_team

_ALL = Page(limit=1_000_000, offset=0)


@dataclass(frozen=True)
class _Change:
    role: Role | None = None
    custom_role_ids: list[str] | None = None


def add_member_to_teams(deps: Deps, *, actor: Actor, member_id: str, team_keys: object) -> Member:
    """Add the member to each team (``updateTeamMembers`` on each). Raises NotFound (the member),
    InvalidRequest (unknown team keys, named)."""
    if not isinstance(team_keys, list) or not team_keys or not all(isinstance(k, str) for k in team_keys):
        raise InvalidRequest("teamKeys must be a non-empty list of team keys")
    for key in team_keys:
        authorize(actor, "updateTeamMembers", resources.team(key))
    with deps.uow() as uow:
        member = uow.members.get(member_id)
        if member is None:
            raise NotFound(f"Unknown member '{member_id}'")
        teams = [uow.teams.get(key, for_update=True) for key in sorted(set(team_keys))]
        missing = [k for k, t in zip(sorted(set(team_keys)), teams, strict=True) if t is None]
        if missing:
            raise InvalidRequest(f"teamKeys: unknown teams {', '.join(missing)}")
        for team in teams:
            assert team is not None
            if member_id in team.member_ids:
                continue
            before = audit_document(team)
            team.member_ids = sorted({*team.member_ids, member_id})
            team.version += 1
            team.last_modified = deps.clock.now_ms()
            uow.teams.update(team)
            record_audit(
                uow,
                deps.clock,
                actor,
                kind="team",
                name=team.name,
                actions=[AuditAction.UPDATE_TEAM_MEMBERS],
                resource=resources.team(team.key),
                title_verb="updated",
                description=f"Added {member.email} to team {team.name}",
                previous=before,
                current=audit_document(team),
            )
        uow.commit()
        updated = uow.members.get(member_id)
    assert updated is not None
    return updated


def team_roles(deps: Deps, *, actor: Actor, key: str, page: Page) -> tuple[list[CustomRole], int]:
    """The custom roles given to the team, in key order."""
    authorize(actor, "viewTeam", resources.team(key))
    with deps.uow(write=False) as uow:
        team = load_team(uow, key)
        found = uow.roles.resolve(team.custom_role_keys)
    roles = [found[k] for k in sorted(team.custom_role_keys) if k in found]
    return roles[page.offset : page.offset + page.limit], len(roles)


def patch_members(deps: Deps, *, actor: Actor, instructions: object, comment: str | None = None) -> list[str]:
    """LaunchDarkly's semantic patch of several members: ``replaceMembersRoles``,
    ``replaceAllMembersRoles``, ``replaceMembersCustomRoles``, ``replaceAllMembersCustomRoles``. Returns
    the ids of the members changed. All or nothing (see the module's docstring)."""
    if not isinstance(instructions, list) or not instructions:
        raise InvalidRequest("instructions must be a non-empty list")
    with deps.uow() as uow:
        uow.members.lock_owners()  # before reading: "the last owner" must still be true at commit
        changes: dict[str, _Change] = {}
        for index, instruction in enumerate(instructions):
            _plan(uow, actor, index, instruction, changes)
        members = {member_id: _load(uow, member_id) for member_id in changes}
        _refuse(uow, actor, members, changes)
        changed = [m for m in changes if _apply(uow, deps, actor, members[m], changes[m], comment)]
        uow.commit()
    return changed


def _plan(uow: UnitOfWork, actor: Actor, index: int, instruction: object, changes: dict[str, _Change]) -> None:
    if not isinstance(instruction, dict) or not isinstance(instruction.get("kind"), str):
        raise InvalidRequest(f"instruction {index} must be an object with a kind")
    kind: str = instruction["kind"]
    if kind in ("replaceMembersRoles", "replaceAllMembersRoles"):
        role = Role.parse(instruction.get("value"), field=f"instruction {index} ({kind}) value")
        if role is Role.OWNER:
            raise InstructionError(index, kind, "the owner role cannot be given in bulk")
        update: dict[str, Any] = {"role": role}
    elif kind in ("replaceMembersCustomRoles", "replaceAllMembersCustomRoles"):
        ids = resolve_role_ids(uow, instruction.get("values"), field=f"instruction {index} ({kind}) values")
        update = {"custom_role_ids": ids}
    else:
        raise InstructionError(index, kind, "unknown instruction kind")
    if kind.startswith("replaceAll"):
        targets = _all_but_filtered(uow, actor, index, kind, instruction)
    else:
        raw = instruction.get("memberIDs")
        if not isinstance(raw, list) or not raw or not all(isinstance(m, str) for m in raw):
            raise InstructionError(index, kind, "memberIDs must be a non-empty list of member ids")
        targets = raw
    for member_id in targets:
        previous = changes.get(member_id, _Change())
        changes[member_id] = _Change(**{**previous.__dict__, **update})


def _all_but_filtered(uow: UnitOfWork, actor: Actor, index: int, kind: str, instruction: dict[str, Any]) -> list[str]:
    """Every member but those matching any filter (LaunchDarkly: matches are *excluded*), and the caller."""
    members, _ = uow.members.find(MemberQuery(page=_ALL))
    ignored = instruction.get("ignoredMemberIDs") or []
    query = instruction.get("filterQuery")
    roles = [r.lower() for r in str(instruction.get("filterRoles") or "").split("|") if r]
    team = instruction.get("filterTeamKey")
    last_seen = instruction.get("filterLastSeen")
    if not isinstance(ignored, list) or (query is not None and not isinstance(query, str)):
        raise InstructionError(index, kind, "ignoredMemberIDs must be a list and filterQuery a string")
    if last_seen is not None and not (isinstance(last_seen, dict) and len(last_seen) == 1):
        raise InstructionError(index, kind, "filterLastSeen must be {never: true}, {noData: true} or {before: ms}")

    def excluded(m: Member) -> bool:
        text = f"{m.email} {m.first_name or ''} {m.last_name or ''}".lower()
        role = "admin" if m.role is Role.OWNER else m.role.value
        return (
            m.id in ignored
            or m.id == actor.member_id
            or (query is not None and query.lower() in text)
            or role in roles
            or any(_holds_role(uow, m, r) for r in roles)
            or (isinstance(team, str) and team.lower() in [k.lower() for k in m.team_keys])
            or (last_seen is not None and _seen_filter(last_seen, m))
        )

    return [m.id for m in members if not excluded(m)]


def _holds_role(uow: UnitOfWork, member: Member, key: str) -> bool:
    role = uow.roles.get(key)
    return role is not None and role.id in member.custom_role_ids


def _seen_filter(last_seen: dict[str, Any], member: Member) -> bool:
    if last_seen.get("never") is True or last_seen.get("noData") is True:
        return not member.last_seen
    before = last_seen.get("before")
    return isinstance(before, int) and (member.last_seen or 0) < before


def _load(uow: UnitOfWork, member_id: str) -> Member | None:
    return uow.members.get(member_id)


def _refuse(uow: UnitOfWork, actor: Actor, members: dict[str, Member | None], changes: dict[str, _Change]) -> None:
    errors: list[str] = []
    owners_left = uow.members.count_owners()
    for member_id, member in members.items():
        change = changes[member_id]
        if member is None:
            errors.append(f"{member_id}: unknown member")
        elif member_id == actor.member_id and change.role is not None and change.role is not member.role:
            errors.append(f"{member_id}: you cannot modify your own role")
        elif member.role.rank > actor.role.rank or (change.role is not None and change.role.rank > actor.role.rank):
            errors.append(f"{member_id}: the role is above your own")
        elif member.role is Role.OWNER and change.role not in (None, Role.OWNER):
            owners_left -= 1
            if owners_left < 1:
                errors.append(f"{member_id}: the account's last owner keeps the owner role")
    if errors:
        raise InvalidRequest("no member was changed: " + "; ".join(errors))
    for member_id, change in changes.items():
        if change.role is not None:
            authorize(actor, "updateRole", resources.member(member_id))
        if change.custom_role_ids is not None:
            authorize(actor, "updateCustomRole", resources.member(member_id))


def _apply(
    uow: UnitOfWork, deps: Deps, actor: Actor, member: Member | None, change: _Change, comment: str | None
) -> bool:
    assert member is not None
    before = member_document(member)
    actions: list[str] = []
    if change.role is not None and change.role is not member.role:
        member.role = change.role
        actions.append(AuditAction.UPDATE_MEMBER_ROLE)
    if change.custom_role_ids is not None and change.custom_role_ids != member.custom_role_ids:
        member.custom_role_ids = list(change.custom_role_ids)
        actions.append(AuditAction.UPDATE_MEMBER_CUSTOM_ROLES)
    if not actions:
        return False
    if member.role.rank > actor.role.rank:
        raise Forbidden("You cannot grant a role above your own")
    member.version += 1
    uow.members.update(member)
    record_audit(
        uow,
        deps.clock,
        actor,
        kind="member",
        name=member.email,
        actions=actions,
        resource=resources.member(member.id),
        title_verb="updated",
        description=f"Updated the roles of member {member.email}",
        comment=comment,
        previous=before,
        current=member_document(member),
    )
    return True
