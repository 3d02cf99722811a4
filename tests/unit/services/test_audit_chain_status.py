"""The console's audit banner: the chain is verified through the port, once per ``ttl_ms``."""

from __future__ import annotations

from dataclasses import replace

import pytest

from flagward.domain.accounts import Actor, ActorKind, Role
from flagward.domain.audit_chain import ChainBreak
from flagward.domain.errors import Forbidden
from flagward.services.audit import CachedChainCheck, audit_chain_status
from tests.fakes import FrozenClock, fake_deps

READER = Actor(kind=ActorKind.SESSION, role=Role.READER, member_id="m")


def test_a_verification_is_reused_until_it_is_too_old() -> None:
    clock = FrozenClock(1_000)
    calls: list[int] = []
    results = [(3, []), (4, [ChainBreak(entry_id="e", seq=2, reason="altered")])]

    def verify() -> tuple[int, list[ChainBreak]]:
        calls.append(clock.now)
        return results[len(calls) - 1]

    deps, _, _ = fake_deps()
    deps = replace(deps, audit_chain=CachedChainCheck(verify, clock, ttl_ms=30_000))
    first = audit_chain_status(deps, actor=READER)
    assert first is not None and first.intact and first.checked == 3
    clock.now += 29_999
    assert audit_chain_status(deps, actor=READER) is first
    clock.now += 1
    second = audit_chain_status(deps, actor=READER)
    assert second is not None and not second.intact and second.checked_at == clock.now
    assert len(calls) == 2


def test_without_a_verifier_the_answer_is_unknown_and_no_access_is_refused() -> None:
    deps, _, _ = fake_deps()
    assert audit_chain_status(deps, actor=READER) is None
    with pytest.raises(Forbidden):
        audit_chain_status(deps, actor=replace(READER, role=Role.NO_ACCESS))
