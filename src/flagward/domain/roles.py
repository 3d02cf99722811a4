"""Custom roles: named policies (LaunchDarkly's ``CustomRole``) given to members, teams and tokens.

A role's ``policy`` is a list of statements in LaunchDarkly's policy language (``domain.policy``).
``base_permissions`` is LaunchDarkly's ``basePermissions``: what the role grants where its policy says
nothing (``reader`` or ``no_access``; None when unset, which is ``no_access``). ``granted_policy`` is what
holding the role grants: its statements, and with ``reader`` the reader's view appended. Within one
policy a deny beats an allow, so the role's own denies still hold against that view.

Keys follow LaunchDarkly: unique, immutable, ``validate_key``'s alphabet. A role is named by its key
or its id wherever LaunchDarkly accepts either (``/roles/{customRoleKey}``, member ``customRoles``).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from flagward.domain.access import Policy
from flagward.domain.builtin_roles import reader_view
from flagward.domain.errors import InvalidRequest
from flagward.domain.policy import Statement, parse_statements

BASE_PERMISSIONS = ("reader", "no_access")


@dataclass
class CustomRole:
    id: str
    key: str
    name: str
    policy: tuple[Statement, ...]
    creation_date: int
    last_modified: int
    description: str | None = None
    base_permissions: str | None = None
    version: int = 1


@dataclass(frozen=True)
class RoleHolders:
    """Who holds a role: member ids and team keys (tokens name roles by id in their own list)."""

    member_ids: tuple[str, ...] = ()
    team_keys: tuple[str, ...] = ()


def granted_policy(role: CustomRole) -> Policy:
    """What holding ``role`` grants (``base_permissions`` applied): one object per distinct policy, so it
    is compiled once (``domain.access.compile_policy``)."""
    return _granted(role.policy, role.base_permissions == "reader")


@lru_cache(maxsize=4096)
def _granted(policy: Policy, reader: bool) -> Policy:
    return policy + reader_view() if reader else policy


def parse_policy(raw: object, *, field: str = "policy") -> tuple[Statement, ...]:
    """A role's policy from its JSON form; a role must say something, so an empty list is refused."""
    if raw is None or raw == []:
        raise InvalidRequest(f"{field} must be a non-empty list of statements")
    try:
        return parse_statements(raw, field=field)
    except InvalidRequest as error:
        if not isinstance(raw, list) or str(error).startswith(field):
            raise
        # A bad resource specifier's message names the specifier only: say which statement holds it.
        for index, item in enumerate(raw):
            try:
                parse_statements([item])
            except InvalidRequest:
                raise InvalidRequest(f"{field}[{index}]: {error}") from None
        raise


def parse_base_permissions(raw: object) -> str | None:
    if raw is None or raw == "":
        return None
    if raw not in BASE_PERMISSIONS:
        raise InvalidRequest(f"basePermissions must be one of {', '.join(BASE_PERMISSIONS)}")
    assert isinstance(raw, str)
    return raw


def check_name(name: object) -> str:
    if not isinstance(name, str) or not name.strip():
        raise InvalidRequest("name is required")
    if len(name) > 256:
        raise InvalidRequest("name must be at most 256 characters")
    return name


def check_description(description: object) -> str | None:
    if description is not None and not isinstance(description, str):
        raise InvalidRequest("description must be a string")
    return description


def role_document(role: CustomRole, *, holders: RoleHolders | None = None) -> dict[str, Any]:
    """LaunchDarkly's ``CustomRole`` representation (without ``_links``: the HTTP edge adds them)."""
    doc: dict[str, Any] = {
        "_id": role.id,
        "key": role.key,
        "name": role.name,
        "description": role.description or "",
        "policy": [s.document() for s in role.policy],
    }
    if role.base_permissions is not None:
        doc["basePermissions"] = role.base_permissions
    if holders is not None:
        doc["assignedTo"] = {"membersCount": len(holders.member_ids), "teamsCount": len(holders.team_keys)}
    return doc
