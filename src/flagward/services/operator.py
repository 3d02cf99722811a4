"""Who an admin command on the server host (``flagward import``, ``export``) acts as: a member, named by
e-mail, with that member's role and custom roles (its own and its teams', as when it signs in). The commands
read the store directly, so whoever runs them already holds the store; naming the member makes the audit log
say who it was and keeps the role's limits (the approval gate's bypass right included)."""

from __future__ import annotations

from flagward.domain.accounts import Actor
from flagward.domain.errors import NotFound
from flagward.services import roles
from flagward.services.auth import session_actor
from flagward.services.ports import Deps


def operator_actor(deps: Deps, *, email: str) -> Actor:
    """The member with ``email`` as an actor. Raises NotFound."""
    with deps.uow(write=False) as uow:
        member = uow.members.get_by_email(email)
        if member is None:
            raise NotFound(f"no member has the e-mail '{email}'")
        return session_actor(member, roles.member_policies(uow, member))
