"""Custom roles: create, read, JSON-patch, delete; and the policies members and tokens act with.

Keys are unique and immutable (LaunchDarkly's); a role is found by its key or its id. A policy must be
a non-empty list of statements whose resource specifiers parse (``domain.policy``); action names are
any non-empty strings, as LaunchDarkly accepts them (``*`` globs included).

Deleting a role that is assigned is allowed, as in LaunchDarkly (its DELETE declares no 409): members
and teams lose it, and the audit entry names them. A token naming the deleted role keeps the id in
``customRoleIds``; the id resolves to nothing, so the token is refused whatever that role allowed
(never widened to its base role): give it another role.

``member_policies`` and ``token_policies`` are what authorization builds an actor's policy from.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from flagward.domain import resources
from flagward.domain.accounts import AccessToken, Actor, Member
from flagward.domain.audit import AuditAction
from flagward.domain.authorization import authorize
from flagward.domain.errors import Conflict, InvalidRequest, NotFound
from flagward.domain.ids import new_object_id, validate_key
from flagward.domain.policy import Statement
from flagward.domain.roles import (
    CustomRole,
    RoleHolders,
    check_description,
    check_name,
    granted_policy,
    parse_base_permissions,
    parse_policy,
    role_document,
)
from flagward.services._common import record_audit
from flagward.services.patching import patch_document
from flagward.services.ports import Deps, Page, UnitOfWork

Policy = tuple[Statement, ...]


@dataclass(frozen=True)
class NewRole:
    key: str
    name: str
    policy: object  # the statements' JSON form (``StatementPost``), validated here
    description: str | None = None
    base_permissions: object = None


def load_role(uow: UnitOfWork, key_or_id: str, *, for_update: bool = False) -> CustomRole:
    role = uow.roles.get(key_or_id, for_update=for_update)
    if role is None:
        raise NotFound(f"Unknown custom role '{key_or_id}'")
    return role


def resolve_role_ids(uow: UnitOfWork, keys_or_ids: object, *, field: str) -> list[str]:
    """The ids of the roles named (by key or id), in the order given; InvalidRequest naming the unknown."""
    if not isinstance(keys_or_ids, list) or not all(isinstance(v, str) and v for v in keys_or_ids):
        raise InvalidRequest(f"{field} must be a list of custom role keys or ids")
    found = uow.roles.resolve(keys_or_ids)
    missing = [name for name in keys_or_ids if name not in found]
    if missing:
        raise InvalidRequest(f"{field}: unknown custom roles {', '.join(missing)}")
    return list(dict.fromkeys(found[name].id for name in keys_or_ids))


def resolve_role_keys(uow: UnitOfWork, keys_or_ids: object, *, field: str) -> list[str]:
    """Like ``resolve_role_ids``, giving the roles' keys (teams hold roles by key)."""
    if not isinstance(keys_or_ids, list) or not all(isinstance(v, str) and v for v in keys_or_ids):
        raise InvalidRequest(f"{field} must be a list of custom role keys")
    found = uow.roles.resolve(keys_or_ids)
    missing = [name for name in keys_or_ids if name not in found]
    if missing:
        raise InvalidRequest(f"{field}: unknown custom roles {', '.join(missing)}")
    return list(dict.fromkeys(found[name].key for name in keys_or_ids))


def create_role(deps: Deps, *, actor: Actor, new: NewRole) -> CustomRole:
    """Raises InvalidRequest (bad key, name, policy or basePermissions), Conflict (the key is taken)."""
    validate_key(new.key)
    authorize(actor, "createRole", resources.role(new.key))
    now = deps.clock.now_ms()
    role = CustomRole(
        id=new_object_id(),
        key=new.key,
        name=check_name(new.name),
        description=check_description(new.description),
        policy=parse_policy(new.policy),
        base_permissions=parse_base_permissions(new.base_permissions),
        creation_date=now,
        last_modified=now,
    )
    with deps.uow() as uow:
        if uow.roles.get(new.key) is not None:
            raise Conflict(f"A custom role with key '{new.key}' already exists")
        uow.roles.add(role)
        _audit(uow, deps, actor, role, [AuditAction.CREATE_ROLE], "created", current=role_document(role))
        uow.commit()
    return role


def get_role(deps: Deps, *, actor: Actor, key: str) -> tuple[CustomRole, RoleHolders]:
    authorize(actor, "viewRole", resources.role(key))  # before looking: no answer tells a stranger it exists
    with deps.uow(write=False) as uow:
        role = load_role(uow, key)
        if role.key != key:
            authorize(actor, "viewRole", resources.role(role.key))  # named by its id
        return role, uow.roles.holders(role.id)


def list_roles(deps: Deps, *, actor: Actor, page: Page) -> tuple[list[tuple[CustomRole, RoleHolders]], int]:
    authorize(actor, "viewRole", resources.role("*"))
    with deps.uow(write=False) as uow:
        roles, total = uow.roles.find(page)
        return [(r, uow.roles.holders(r.id)) for r in roles], total


_WRITABLE = ("name", "description", "policy", "basePermissions")
_ACTIONS = {
    "name": AuditAction.UPDATE_ROLE_NAME,
    "description": AuditAction.UPDATE_ROLE_DESCRIPTION,
    "policy": AuditAction.UPDATE_ROLE_POLICY,
    "basePermissions": AuditAction.UPDATE_ROLE_BASE_PERMISSIONS,
}


def patch_role(
    deps: Deps, *, actor: Actor, key: str, patch: object, comment: str | None = None, kind: str = "json"
) -> CustomRole:
    """JSON patch (``kind`` "json") or JSON merge patch ("merge") on name, description, policy and
    basePermissions; the result is validated as on create. Each changed field is authorized with its own
    action (``updatePolicy``, ``updateName``…)."""
    with deps.uow() as uow:
        role = load_role(uow, key, for_update=True)
        before = role_document(role)
        # An unset basePermissions is absent from the document; present it as null so "replace" can set it.
        base = {"basePermissions": None, **before}
        after = patch_document(base, kind, patch, writable=_WRITABLE)
        actions = [_ACTIONS[name] for name in _WRITABLE if after.get(name) != base.get(name)]
        # A patch that changes nothing still answers the role: at least viewing it must be allowed.
        for action in [str(a) for a in actions] or ["viewRole"]:
            authorize(actor, action, resources.role(role.key))
        role.name = check_name(after.get("name"))
        role.description = check_description(after.get("description")) or None
        role.policy = parse_policy(after.get("policy"))
        role.base_permissions = parse_base_permissions(after.get("basePermissions"))
        if actions:
            role.version += 1
            role.last_modified = deps.clock.now_ms()
            uow.roles.update(role)
            _audit(
                uow,
                deps,
                actor,
                role,
                actions,
                "updated",
                previous=before,
                current=role_document(role),
                comment=comment,
            )
        uow.commit()
    return role


def delete_role(deps: Deps, *, actor: Actor, key: str) -> None:
    """Delete the role and its assignments to members and teams (see the module's docstring)."""
    authorize(actor, "deleteRole", resources.role(key))
    with deps.uow() as uow:
        role = load_role(uow, key, for_update=True)
        if role.key != key:
            authorize(actor, "deleteRole", resources.role(role.key))
        holders = uow.roles.holders(role.id)
        uow.roles.delete(role)
        _audit(
            uow,
            deps,
            actor,
            role,
            [AuditAction.DELETE_ROLE],
            "deleted",
            previous=role_document(role, holders=holders),
            extra=[*(resources.member(m) for m in holders.member_ids), *(resources.team(t) for t in holders.team_keys)],
        )
        uow.commit()


def _audit(
    uow: UnitOfWork,
    deps: Deps,
    actor: Actor,
    role: CustomRole,
    actions: list[AuditAction],
    verb: str,
    *,
    previous: dict[str, Any] | None = None,
    current: dict[str, Any] | None = None,
    comment: str | None = None,
    extra: Collection[str] = (),
) -> None:
    record_audit(
        uow,
        deps.clock,
        actor,
        kind="role",
        name=role.name,
        actions=actions,
        resource=resources.role(role.key),
        title_verb=verb,
        description=f"{verb.capitalize()} custom role {role.name}",
        comment=comment,
        previous=previous,
        current=current,
        extra_resources=list(extra),
    )


def member_policies(uow: UnitOfWork, member: Member) -> tuple[Policy, ...]:
    """The policies of the member's own custom roles, then of its teams' roles (each role once).

    ``member`` as the repositories load it (``custom_role_ids`` and ``team_role_keys`` filled). The
    member's base role is not included: the caller adds the built-in policy of ``member.role``.
    """
    names = [*member.custom_role_ids, *(k for keys in member.team_role_keys.values() for k in keys)]
    found = uow.roles.resolve(names)
    roles = {found[n].id: found[n] for n in names if n in found}
    return tuple(granted_policy(role) for role in roles.values())


def token_policies(uow: UnitOfWork, token: AccessToken) -> tuple[Policy, ...] | None:
    """The policies a token acts with instead of its base role: its inline role, or its custom roles'
    policies (a deleted role contributes nothing, so a token left with none is refused everything).
    None when the token uses its base role (``token.role``)."""
    if token.inline_role is not None:
        return (token.inline_role,)
    if not token.custom_role_ids:
        return None
    found = uow.roles.resolve(token.custom_role_ids)
    return tuple(granted_policy(found[i]) for i in token.custom_role_ids if i in found)
