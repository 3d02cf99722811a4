"""A stopping process hands back the outgoing messages it had claimed (SIGTERM): another process may send
them at once instead of when their lease runs out. Other processes' claims are left alone."""

from __future__ import annotations

import asyncio

from flagward.delivery import Dispatcher
from tests.integration.test_delivery import deps_for, enqueue, mail, store, stored

__all__ = ["store"]  # the fixture, both stores


def test_a_stopping_dispatcher_releases_only_its_own_claims(store: str) -> None:
    deps = deps_for(store)
    mine, theirs = enqueue(deps, mail("a@example.com"), mail("b@example.com"))
    dispatcher = Dispatcher(deps, {})  # delivers no kind: it only holds what it claimed before
    with deps.uow() as uow:
        now = deps.clock.now_ms()
        (claimed,) = uow.outbox.claim(now=now, owner=dispatcher.owner, lease_ms=60_000, limit=1, kinds=["email"])
        (other,) = uow.outbox.claim(now=now, owner="another-process", lease_ms=60_000, limit=1, kinds=["email"])
        uow.commit()
    assert {claimed.id, other.id} == {mine, theirs}
    stop = asyncio.Event()
    stop.set()
    asyncio.run(dispatcher.run(stop))
    assert stored(deps, claimed.id).lease_owner is None
    assert stored(deps, claimed.id).lease_until is None
    assert stored(deps, other.id).lease_owner == "another-process"
