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

from flagward.domain.access import Access
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
