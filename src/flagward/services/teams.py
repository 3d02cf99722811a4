"""Teams: create, read, semantic-patch (addMembers, removeMembers, updateName, updateDescription),
import members, delete."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from flagward.domain import resources
from flagward.domain.accounts import Actor, Team
from flagward.domain.audit import AuditAction
from flagward.domain.authorization import authorize, authorize_all
from flagward.domain.errors import Conflict, InstructionError, InvalidRequest, NotFound
from flagward.domain.ids import new_object_id, validate_key
from flagward.domain.representations import team_document
from flagward.services._common import record_audit
from flagward.services.ports import Deps, Page, UnitOfWork
from flagward.services.review_teams import environments_requiring
from flagward.services.roles import resolve_role_keys


@dataclass(frozen=True)
class NewTeam:
    key: str
    name: str
    description: str | None = None
    member_ids: list[str] = field(default_factory=list)
    custom_role_keys: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class ImportResult:
    email: str
    member_id: str | None
    status: str  # "success" | "error"
    message: str | None = None


def load_team(uow: UnitOfWork, key: str, *, for_update: bool = False) -> Team:
    """The team; writers pass ``for_update``: a membership change is computed from the members read."""
    team = uow.teams.get(key, for_update=for_update)
    if team is None:
        raise NotFound(f"Unknown team '{key}'")
    return team


def _check_members(uow: UnitOfWork, member_ids: list[str], *, field: str) -> None:
    missing = [m for m in member_ids if uow.members.get(m) is None]
    if missing:
        raise InvalidRequest(f"{field}: unknown member ids {', '.join(missing)}")


def create_team(deps: Deps, *, actor: Actor, new: NewTeam) -> Team:
    authorize(actor, "createTeam", resources.team(new.key if isinstance(new.key, str) and new.key else "*"))
    validate_key(new.key)
    if not isinstance(new.name, str) or not new.name.strip():
        raise InvalidRequest("name is required")
    now = deps.clock.now_ms()
    team = Team(
        id=new_object_id(),
        key=new.key,
        name=new.name,
        description=new.description,
        creation_date=now,
        last_modified=now,
        member_ids=sorted(set(new.member_ids)),
    )
    with deps.uow() as uow:
        if uow.teams.get(new.key) is not None:
            raise Conflict(f"A team with key '{new.key}' already exists")
        _check_members(uow, team.member_ids, field="memberIDs")
        team.custom_role_keys = sorted(resolve_role_keys(uow, new.custom_role_keys, field="customRoleKeys"))
        if team.custom_role_keys:
            authorize(actor, AuditAction.UPDATE_TEAM_CUSTOM_ROLES, resources.team(team.key))
        uow.teams.add(team)
        record_audit(
            uow,
            deps.clock,
            actor,
            kind="team",
            name=team.name,
            actions=[AuditAction.CREATE_TEAM],
            resource=resources.team(team.key),
            title_verb="created",
            description=f"Created team {team.name}",
            current=audit_document(team),
        )
        uow.commit()
    return team


def get_team(deps: Deps, *, actor: Actor, key: str) -> Team:
    authorize(actor, "viewTeam", resources.team(key))
    with deps.uow(write=False) as uow:
        return load_team(uow, key)


def list_teams(deps: Deps, *, actor: Actor, query: str | None, page: Page) -> tuple[list[Team], int]:
    authorize(actor, "viewTeam", resources.team("*"))
    with deps.uow(write=False) as uow:
        return uow.teams.find(query, page)


def _apply_team_instruction(uow: UnitOfWork, team: Team, index: int, instruction: object) -> str | None:
    """Apply one instruction to ``team`` in memory; returns the audit action, or None for a no-op."""
    if not isinstance(instruction, dict) or not isinstance(instruction.get("kind"), str):
        raise InvalidRequest(f"instruction {index} must be an object with a kind")
    kind: str = instruction["kind"]
    if kind in ("addMembers", "removeMembers"):
        values = _string_list(instruction.get("values"), index, kind)
        members = set(team.member_ids)
        if kind == "addMembers":
            missing = [m for m in values if uow.members.get(m) is None]
            if missing:
                raise InstructionError(index, kind, f"unknown member ids {', '.join(missing)}")
            updated = members | set(values)
        else:
            updated = members - set(values)
        if updated == members:
            return None
        team.member_ids = sorted(updated)
        return AuditAction.UPDATE_TEAM_MEMBERS
    if kind in ("addCustomRoles", "removeCustomRoles"):
        return _apply_role_instruction(uow, team, index, kind, instruction.get("values"))
    if kind in ("addPermissionGrants", "removePermissionGrants"):
        return _apply_grant_instruction(uow, team, index, kind, instruction)
    if kind in ("updateName", "updateDescription"):
        value = instruction.get("value")
        if not isinstance(value, str) or (kind == "updateName" and not value.strip()):
            raise InstructionError(index, kind, "value must be a non-empty string")
        if kind == "updateName":
            team.name = value
            return AuditAction.UPDATE_TEAM
        team.description = value
        return AuditAction.UPDATE_TEAM_DESCRIPTION
    raise InstructionError(index, kind, "unknown instruction kind")


def _apply_role_instruction(uow: UnitOfWork, team: Team, index: int, kind: str, values: object) -> str | None:
    """``addCustomRoles``/``removeCustomRoles``: role keys (an unknown key is refused on add)."""
    keys = _string_list(values, index, kind)
    current = set(team.custom_role_keys)
    if kind == "addCustomRoles":
        found = uow.roles.resolve(keys)
        missing = [k for k in keys if k not in found]
        if missing:
            raise InstructionError(index, kind, f"unknown custom roles {', '.join(missing)}")
        updated = current | {found[k].key for k in keys}
    else:
        updated = current - set(keys)
    if updated == current:
        return None
    team.custom_role_keys = sorted(updated)
    return AuditAction.UPDATE_TEAM_CUSTOM_ROLES


# The permission grant flagward keeps: maintaining the team (LaunchDarkly's ``maintainTeam`` action set).
MAINTAIN_TEAM = "maintainTeam"


def _apply_grant_instruction(
    uow: UnitOfWork, team: Team, index: int, kind: str, instruction: dict[str, Any]
) -> str | None:
    """``addPermissionGrants``/``removePermissionGrants`` with ``actionSet: maintainTeam`` (or
    ``actions: [maintainTeam]``): the members named become, or stop being, the team's maintainers."""
    action_set, actions = instruction.get("actionSet"), instruction.get("actions")
    if (action_set, actions) not in ((MAINTAIN_TEAM, None), (None, [MAINTAIN_TEAM])):
        raise InstructionError(index, kind, f"the only permission grant is actionSet '{MAINTAIN_TEAM}'")
    member_ids = _string_list(instruction.get("memberIDs"), index, kind)
    current = set(team.maintainer_ids)
    if kind == "addPermissionGrants":
        missing = [m for m in member_ids if uow.members.get(m) is None]
        if missing:
            raise InstructionError(index, kind, f"unknown member ids {', '.join(missing)}")
        updated = current | set(member_ids)
    else:
        updated = current - set(member_ids)
    if updated == current:
        return None
    team.maintainer_ids = sorted(updated)
    return AuditAction.UPDATE_TEAM_MAINTAINERS


def audit_document(team: Team) -> dict[str, Any]:
    """The team as its audit entries show it: its representation, its custom role keys and maintainers."""
    return {**team_document(team), "customRoleKeys": list(team.custom_role_keys), "maintainers": team.maintainer_ids}


def _string_list(value: Any, index: int, kind: str) -> list[str]:
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        raise InstructionError(index, kind, "values must be a non-empty list of member ids")
    return value


def patch_team(deps: Deps, *, actor: Actor, key: str, instructions: object, comment: str | None = None) -> Team:
    """Semantic patch; all instructions apply or none. Each is authorized as its action on the team
    (``updateTeamMembers``, ``updateTeamName``, ``updateTeamDescription``), before anything is stored."""
    authorize(actor, "viewTeam", resources.team(key))
    if not isinstance(instructions, list) or not instructions:
        raise InvalidRequest("instructions must be a non-empty list")
    with deps.uow() as uow:
        team = load_team(uow, key, for_update=True)
        before = audit_document(team)
        actions = [a for i, ins in enumerate(instructions) if (a := _apply_team_instruction(uow, team, i, ins))]
        authorize_all(actor, [(a, resources.team(key)) for a in dict.fromkeys(actions)])
        if actions:
            team.version += 1
            team.last_modified = deps.clock.now_ms()
            uow.teams.update(team)
            record_audit(
                uow,
                deps.clock,
                actor,
                kind="team",
                name=team.name,
                actions=actions,
                resource=resources.team(key),
                title_verb="updated",
                description=f"Updated team {team.name}",
                comment=comment,
                previous=before,
                current=audit_document(team),
            )
        uow.commit()
    return team


def add_team_members_by_email(deps: Deps, *, actor: Actor, key: str, emails: list[str]) -> list[ImportResult]:
    """Import members into a team by email (the CSV upload of LaunchDarkly's API).

    Unknown emails are reported per line; nothing is added unless every email is known.
    """
    authorize(actor, "updateTeamMembers", resources.team(key))
    if not emails:
        raise InvalidRequest("file must list at least one email address")
    with deps.uow() as uow:
        team = load_team(uow, key, for_update=True)
        results: list[ImportResult] = []
        found: list[str] = []
        for email in emails:
            member = uow.members.get_by_email(email)
            if member is None:
                results.append(ImportResult(email, None, "error", "no member has this email"))
            else:
                results.append(ImportResult(email, member.id, "success"))
                found.append(member.id)
        if any(r.status == "error" for r in results):
            return results
        if set(found) - set(team.member_ids):
            team.member_ids = sorted(set(team.member_ids) | set(found))
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
                resource=resources.team(key),
                title_verb="updated",
                description=f"Added {len(found)} members to team {team.name}",
            )
        uow.commit()
    return results


def delete_team(deps: Deps, *, actor: Actor, key: str) -> None:
    authorize(actor, AuditAction.DELETE_TEAM, resources.team(key))
    with deps.uow() as uow:
        team = load_team(uow, key, for_update=True)
        requiring = environments_requiring(uow, key)
        if requiring:
            raise InvalidRequest(
                f"Team '{key}' is a required reviewer team in {', '.join(requiring)}; "
                "remove it from those approval settings first"
            )
        uow.teams.delete(team)
        record_audit(
            uow,
            deps.clock,
            actor,
            kind="team",
            name=team.name,
            actions=[AuditAction.DELETE_TEAM],
            resource=resources.team(key),
            title_verb="deleted",
            description=f"Deleted team {team.name}",
            previous=audit_document(team),
        )
        uow.commit()
