"""``services.triggers`` on the fakes: firing acts once per window, is rate-limited per address and per
secret, refuses unknown and disabled secrets alike, and acts as the trigger through the approval gate's
one pre-approved door; setting a trigger up where approval is required needs the bypass right."""

from __future__ import annotations

import pytest

from flagward.domain.accounts import Role
from flagward.domain.errors import ApprovalRequired, Forbidden, NotFound, RateLimited
from flagward.domain.events import SdkItemChanged
from flagward.domain.triggers import TriggerLimits
from flagward.services import triggers
from flagward.services.triggers import NewTrigger
from tests.unit.services.conftest import World
from tests.unit.services.test_flag_changes import Shop

ON = [{"kind": "turnFlagOn"}]
LIMITS = TriggerLimits(window_ms=10_000, per_address=100, per_trigger=100)


def create(shop: Shop, env: str = "production", instructions: object = ON, actor: object = None) -> str:
    created = triggers.create_trigger(
        shop.world.deps,
        actor=actor or shop.admin,  # type: ignore[arg-type]
        project_key="shop",
        flag_key="f",
        env_key=env,
        new=NewTrigger(integration_key="generic-trigger", instructions=instructions),
    )
    return created.secret


def fire(shop: Shop, secret: str, limits: TriggerLimits = LIMITS, address: str = "192.0.2.1") -> triggers.Fired:
    return triggers.fire_trigger(shop.world.deps, secret=secret, address=address, limits=limits)


def test_a_trigger_acts_once_per_window(world: World) -> None:
    shop = Shop(world)
    secret = create(shop)
    first = fire(shop, secret)
    assert first.acted and shop.flag.environments["production"]["on"] is True
    assert [type(e) for e in world.uow.broker.published] == [SdkItemChanged]
    world.clock.advance(9_999)
    assert not fire(shop, secret).acted
    assert len(world.uow.broker.published) == 1
    world.clock.advance(1)
    again = fire(shop, secret)
    assert again.acted and again.trigger.trigger_count == 2


def test_the_change_is_audited_as_the_trigger(world: World) -> None:
    shop = Shop(world)
    secret = create(shop)
    fired = fire(shop, secret).trigger
    entry = world.uow.store.audit[-1]
    assert entry.actor.member_id is None
    assert entry.actor.token_name == f"flag trigger {fired.id} (generic-trigger)"
    assert [a.action for a in entry.accesses] == ["updateOn"]
    assert entry.delta == {"environmentKey": "production", "instructions": ON}


def test_unknown_and_disabled_secrets_are_refused_alike(world: World) -> None:
    shop = Shop(world)
    secret = create(shop)
    (trigger,) = world.uow.store.triggers.values()
    triggers.patch_trigger(
        world.deps,
        actor=shop.admin,
        project_key="shop",
        flag_key="f",
        env_key="production",
        trigger_id=trigger.id,
        instructions=[{"kind": "disableTrigger"}],
    )
    with pytest.raises(NotFound) as disabled:
        fire(shop, secret)
    with pytest.raises(NotFound) as unknown:
        fire(shop, secret + "x")
    assert disabled.value.message == unknown.value.message
    assert shop.flag.environments["production"]["on"] is False


def test_firing_is_rate_limited_per_address_and_per_secret(world: World) -> None:
    shop = Shop(world)
    secret = create(shop)
    by_address = TriggerLimits(window_ms=10_000, per_address=3, per_trigger=100)
    for _ in range(3):
        with pytest.raises(NotFound):
            fire(shop, "guess", by_address)  # unknown secrets spend the address's budget too
    with pytest.raises(RateLimited) as limited:
        fire(shop, secret, by_address)
    assert limited.value.retry_after_seconds == 60
    assert fire(shop, secret, by_address, address="192.0.2.2").acted  # another address

    per_secret = TriggerLimits(window_ms=10_000, per_address=100, per_trigger=2)
    world.clock.advance(60_000)
    for _ in range(2):
        fire(shop, secret, per_secret, address="192.0.2.3")
    with pytest.raises(RateLimited):
        fire(shop, secret, per_secret, address="192.0.2.4")


def test_setting_a_trigger_up_where_approval_is_required_needs_the_bypass_right(world: World) -> None:
    shop = Shop(world)
    shop.require_approval("production", required=True)
    writer = world.member(Role.WRITER)
    with pytest.raises(ApprovalRequired):
        create(shop, actor=writer)
    create(shop, "test", actor=writer)
    secret = create(shop)  # an admin may bypass approval
    assert fire(shop, secret).acted
    assert shop.flag.environments["production"]["on"] is True


def test_readers_may_not_create_triggers(world: World) -> None:
    shop = Shop(world)
    with pytest.raises(Forbidden):
        create(shop, "test", actor=world.member(Role.READER))
