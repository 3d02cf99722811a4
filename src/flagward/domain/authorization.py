"""The one question every door asks: may this actor perform this action on this resource?

``action`` is LaunchDarkly's role action name (``updateOn``, ``createApprovalRequest``, ``viewProject``,
…) and ``resource`` a resource specifier built with ``domain.resources`` (tags included). Every service
function that reads or writes on behalf of an actor calls ``authorize`` (or ``permits`` to decide what
to show) with these; nothing else decides access.
"""

from __future__ import annotations

from flagward.domain.accounts import Actor
from flagward.domain.errors import Forbidden
from flagward.domain.permissions import Permission, can

# Until custom roles land, actions map onto the built-in roles' permissions.
_BY_ACTION: dict[str, Permission] = {
    "createApprovalRequest": Permission.CREATE_APPROVAL_REQUEST,
    "reviewApprovalRequest": Permission.REVIEW_APPROVAL_REQUEST,
    "applyApprovalRequest": Permission.APPLY_APPROVAL_REQUEST,
    "updateApprovalRequest": Permission.UPDATE_APPROVAL_REQUEST,
    "deleteApprovalRequest": Permission.DELETE_APPROVAL_REQUEST,
    "bypassRequiredApproval": Permission.BYPASS_REQUIRED_APPROVAL,
    "bypassRequiredSegmentApproval": Permission.BYPASS_REQUIRED_APPROVAL,
}
_BY_RESOURCE_TYPE: dict[str, Permission] = {
    "flag": Permission.UPDATE_FLAG_CONFIG,
    "segment": Permission.MANAGE_SEGMENTS,
    "env": Permission.MANAGE_ENVIRONMENTS,
    "proj": Permission.MANAGE_PROJECTS,
    "member": Permission.MANAGE_MEMBERS,
    "token": Permission.MANAGE_OWN_TOKENS,
    "service-token": Permission.MANAGE_TOKENS,
    "team": Permission.MANAGE_TEAMS,
    "role": Permission.MANAGE_MEMBERS,
    "webhook": Permission.MANAGE_WEBHOOKS,
    "template": Permission.MANAGE_FLAGS,
    "acct": Permission.MANAGE_MEMBERS,
}


def _resource_type(resource: str) -> str:
    last = resource.rsplit(":", 1)[-1]
    return last.split(";", 1)[0].split("/", 1)[0]


def permits(actor: Actor, action: str, resource: str) -> bool:
    if action.startswith("view"):
        return can(actor, Permission.READ)
    permission = _BY_ACTION.get(action)
    if permission is None:
        kind = _resource_type(resource)
        if kind == "flag" and action in ("createFlag", "deleteFlag", "cloneFlag"):
            permission = Permission.MANAGE_FLAGS
        else:
            permission = _BY_RESOURCE_TYPE.get(kind, Permission.MANAGE_MEMBERS)
    return can(actor, permission)


def authorize(actor: Actor, action: str, resource: str) -> None:
    """Raise Forbidden (LaunchDarkly's 403) unless the actor may perform ``action`` on ``resource``."""
    if not permits(actor, action, resource):
        raise Forbidden(f"Access to the requested resource was denied: '{action}' on '{resource}' is not allowed")
