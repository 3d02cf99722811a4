"""Sign-in throttling on fakes: per email and address, per address over emails, windows, Retry-After."""

from __future__ import annotations

import pytest

from flagward.domain.accounts import Role
from flagward.domain.errors import RateLimited, Unauthorized
from flagward.domain.rate_limits import ApiLimits, SignInLimits, address_scope
from flagward.services import auth, members, throttling
from flagward.services.members import NewMember
from tests.unit.services.conftest import World

PASSWORD = "correct horse"
LIMITS = SignInLimits(per_account_and_address=3, per_address=5, window_ms=60_000)


@pytest.fixture
def ann(world: World) -> str:
    admin = world.member(Role.ADMIN)
    members.create_members(world.deps, actor=admin, new=[NewMember(email="ann@example.com", password=PASSWORD)])
    return "ann@example.com"


def _fail(world: World, email: str, address: str, times: int = 1) -> None:
    for _ in range(times):
        with pytest.raises(Unauthorized):
            auth.login(world.deps, LIMITS, email=email, password="wrong", address=address)


def test_failures_elsewhere_never_lock_the_owner_out(world: World, ann: str) -> None:
    _fail(world, ann, "203.0.113.9", times=3)
    with pytest.raises(RateLimited) as refused:
        auth.login(world.deps, LIMITS, email=ann, password=PASSWORD, address="203.0.113.9")
    assert 1 <= refused.value.retry_after_seconds <= 60
    assert auth.login(world.deps, LIMITS, email=ann, password=PASSWORD, address="198.51.100.7").member.email == ann


def test_a_refused_attempt_costs_nothing_and_the_window_ends(world: World, ann: str) -> None:
    _fail(world, ann, "203.0.113.9", times=3)
    world.clock.advance(30_000)
    for _ in range(5):  # hammering a closed door neither counts nor extends the window
        with pytest.raises(RateLimited) as refused:
            auth.login(world.deps, LIMITS, email=ann, password="wrong", address="203.0.113.9")
    assert refused.value.retry_after_seconds == 30
    world.clock.advance(30_000)
    assert auth.login(world.deps, LIMITS, email=ann, password=PASSWORD, address="203.0.113.9").member.email == ann


def test_a_success_clears_the_pairs_failures(world: World, ann: str) -> None:
    _fail(world, ann, "203.0.113.9", times=2)
    auth.login(world.deps, LIMITS, email=ann, password=PASSWORD, address="203.0.113.9")
    _fail(world, ann, "203.0.113.9", times=3)  # three more, not one


def test_spraying_one_address_over_many_emails_stops_that_address_only(world: World, ann: str) -> None:
    for i in range(5):
        _fail(world, f"user{i}@example.com", "203.0.113.9")
    with pytest.raises(RateLimited):
        auth.login(world.deps, LIMITS, email=ann, password=PASSWORD, address="203.0.113.9")
    assert auth.login(world.deps, LIMITS, email=ann, password=PASSWORD, address="198.51.100.7").member.email == ann


def test_successes_do_not_use_up_the_address_budget(world: World, ann: str) -> None:
    for _ in range(3 * LIMITS.per_address):
        auth.login(world.deps, LIMITS, email=ann, password=PASSWORD, address="203.0.113.9")


def test_ipv6_addresses_count_by_their_64_network() -> None:
    assert address_scope("2001:db8:1:2:aaaa::1") == address_scope("2001:db8:1:2:bbbb::2") == "2001:db8:1:2::/64"
    assert address_scope("::ffff:192.0.2.1") == "192.0.2.1"
    assert address_scope("testclient") == "testclient"


def test_api_budgets_are_per_caller_and_refuse_without_counting(world: World) -> None:
    limits = ApiLimits(per_caller=2, per_route=0, window_ms=10_000)
    for remaining in (1, 0):
        allowance = throttling.spend_api_budget(world.deps, limits, caller="token:a", route="GET /x")
        assert allowance is not None and allowance.allowed and allowance.remaining("global") == remaining
        assert allowance.remaining("route") is None
    refused = throttling.spend_api_budget(world.deps, limits, caller="token:a", route="GET /x")
    assert refused is not None and not refused.allowed and refused.retry_after_seconds == 10
    other = throttling.spend_api_budget(world.deps, limits, caller="token:b", route="GET /x")
    assert other is not None and other.allowed
    assert throttling.spend_api_budget(world.deps, ApiLimits(), caller="token:a", route="GET /x") is None
    world.clock.advance(10_000)
    assert throttling.prune(world.deps) == 2
