from __future__ import annotations

import pytest

from flagward.domain.accounts import Actor, ActorKind, Member, Role
from flagward.services.ports import Deps
from tests.fakes import FakeUnitOfWorkFactory, FrozenClock, fake_deps


class World:
    """Fake deps plus helpers to make members and actors."""

    def __init__(self) -> None:
        self.deps, self.uow, self.clock = fake_deps()

    def member(self, role: Role, email: str | None = None) -> Actor:
        member_id = f"{len(self.uow.store.members):024x}"
        email = email or f"{role.value}-{member_id[-4:]}@example.com"
        self.uow.store.members[member_id] = Member(id=member_id, email=email, role=role, creation_date=self.clock.now)
        return Actor(kind=ActorKind.SESSION, role=role, member_id=member_id, member_email=email)


@pytest.fixture
def world() -> World:
    return World()


__all__ = ["Deps", "FakeUnitOfWorkFactory", "FrozenClock", "World"]
