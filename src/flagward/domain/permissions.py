"""What each built-in role may do. Decisions are in memory; callers load what they need first."""

from __future__ import annotations

from enum import StrEnum

from flagward.domain.accounts import Actor, Role
from flagward.domain.errors import Forbidden


class Permission(StrEnum):
    READ = "read"
    MANAGE_OWN_TOKENS = "manageOwnTokens"
    MANAGE_FLAGS = "manageFlags"  # create, delete and project-level flag fields
    UPDATE_FLAG_CONFIG = "updateFlagConfig"  # environment-level targeting
    MANAGE_SEGMENTS = "manageSegments"
    CREATE_APPROVAL_REQUEST = "createApprovalRequest"
    REVIEW_APPROVAL_REQUEST = "reviewApprovalRequest"
    APPLY_APPROVAL_REQUEST = "applyApprovalRequest"
    UPDATE_APPROVAL_REQUEST = "updateApprovalRequest"
    DELETE_APPROVAL_REQUEST = "deleteApprovalRequest"
    # Held by owner and admin only: writers do not silently bypass required approvals.
    BYPASS_REQUIRED_APPROVAL = "bypassRequiredApproval"
    MANAGE_PROJECTS = "manageProjects"
    MANAGE_ENVIRONMENTS = "manageEnvironments"
    MANAGE_MEMBERS = "manageMembers"
    MANAGE_TEAMS = "manageTeams"
    MANAGE_TOKENS = "manageTokens"  # other members' tokens and service tokens
    MANAGE_WEBHOOKS = "manageWebhooks"  # create, change, delete webhooks and see their secrets


_READER = frozenset({Permission.READ, Permission.MANAGE_OWN_TOKENS})
_WRITER = _READER | {
    Permission.MANAGE_FLAGS,
    Permission.UPDATE_FLAG_CONFIG,
    Permission.MANAGE_SEGMENTS,
    Permission.CREATE_APPROVAL_REQUEST,
    Permission.REVIEW_APPROVAL_REQUEST,
    Permission.APPLY_APPROVAL_REQUEST,
    Permission.UPDATE_APPROVAL_REQUEST,
    Permission.DELETE_APPROVAL_REQUEST,
}
_ADMIN = frozenset(Permission)

GRANTS: dict[Role, frozenset[Permission]] = {
    Role.NO_ACCESS: frozenset(),
    Role.READER: _READER,
    Role.WRITER: frozenset(_WRITER),
    Role.ADMIN: _ADMIN,
    Role.OWNER: _ADMIN,
}


def can(actor: Actor, permission: Permission) -> bool:
    return permission in GRANTS[actor.role]


def require(actor: Actor, permission: Permission) -> None:
    """Raise Forbidden unless ``actor``'s role grants ``permission``."""
    if not can(actor, permission):
        raise Forbidden(f"Access to the requested resource was denied: your role lacks '{permission}'")
