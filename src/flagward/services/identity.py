"""Read-side use cases about the caller and the account."""

from __future__ import annotations

from dataclasses import dataclass

from flagward.domain.accounts import Actor
from flagward.services.ports import Deps


@dataclass(frozen=True)
class CallerIdentity:
    account_id: str
    actor: Actor


def caller_identity(deps: Deps, *, actor: Actor) -> CallerIdentity:
    with deps.uow(write=False) as uow:
        return CallerIdentity(account_id=uow.meta.account_id(), actor=actor)
