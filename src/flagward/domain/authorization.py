"""The one question every door asks: may this actor perform this action on this resource?

``action`` is LaunchDarkly's role action name (``updateOn``, ``createApprovalRequest``, ``viewProject``,
…) and ``resource`` a resource specifier built with ``domain.resources`` (tags included). Every service
function that reads or writes on behalf of an actor calls ``authorize`` (or ``permits`` to decide what
to show) with these; nothing else decides access.

The answer comes from the actor's effective access (``Actor.access``: its policies and, for a token,
its member's access as a ceiling; ``domain.access``). An actor built without one (the server itself,
tests) has its built-in role's policy (``domain.builtin_roles``): one evaluator, whatever the role.
"""

from __future__ import annotations

from functools import lru_cache

from flagward.domain.access import Access, may_ever
from flagward.domain.accounts import Actor, Role
from flagward.domain.builtin_roles import actor_access
from flagward.domain.errors import Forbidden


@lru_cache(maxsize=4096)
def _builtin_access(role: Role, member_id: str | None) -> Access:
    return actor_access(role, member_id=member_id)


def access_of(actor: Actor) -> Access:
    """The access in force for ``actor``."""
    return actor.access if actor.access is not None else _builtin_access(actor.role, actor.member_id)


def permits(actor: Actor, action: str, resource: str) -> bool:
    return access_of(actor).permits(action, resource)


def authorize(actor: Actor, action: str, resource: str) -> None:
    """Raise Forbidden (LaunchDarkly's 403) unless the actor may perform ``action`` on ``resource``."""
    if not permits(actor, action, resource):
        raise Forbidden(f"Access to the requested resource was denied: '{action}' on '{resource}' is not allowed")


def authorize_all(actor: Actor, accesses: list[tuple[str, str]]) -> None:
    """``authorize`` each ``(action, resource)`` pair, refusing on the first one not allowed."""
    for action, resource in accesses:
        authorize(actor, action, resource)


def may_view_any(actor: Actor, action: str, kind: str) -> bool:
    """Whether the actor could be allowed ``action`` on some resource ``kind`` names (``domain.access.may_ever``)."""
    return may_ever(access_of(actor), action, kind)


def authorize_kind(actor: Actor, action: str, *kinds: str) -> None:
    """Raise Forbidden unless the actor could be allowed ``action`` on some resource one of ``kinds``
    names: asked before a lookup, so that one who may see nothing of a kind learns nothing of what exists."""
    if not any(may_view_any(actor, action, kind) for kind in kinds):
        raise Forbidden(f"Access to the requested resource was denied: '{action}' on '{kinds[0]}' is not allowed")
