"""The per-process actor cache serves an entry only under the generation it was made under."""

from __future__ import annotations

from flagward.domain.accounts import AccessToken, Actor, ActorKind, Role
from flagward.domain.builtin_roles import actor_access
from flagward.services.actor_cache import ActorCache, CachedActor


def _entry(name: str) -> CachedActor:
    token = AccessToken(
        id=name,
        owner_id="owner",
        name=name,
        role=Role.WRITER,
        service_token=True,
        token_hash=f"hash-{name}",
        last4=name[-4:],
        creation_date=0,
        last_modified=0,
    )
    actor = Actor(kind=ActorKind.SERVICE_TOKEN, role=Role.WRITER, access=actor_access(Role.WRITER), token_id=name)
    return CachedActor(actor, token)


def test_an_entry_is_served_only_under_its_own_generation() -> None:
    cache = ActorCache()
    entry = _entry("a")
    cache.put("digest-a", "g1", entry)
    assert cache.get("digest-a", "g1") is entry
    assert cache.get("digest-a", "g2") is None
    assert cache.get("digest-b", "g1") is None


def test_a_new_generation_drops_every_older_entry() -> None:
    cache = ActorCache()
    cache.put("digest-a", "g1", _entry("a"))
    cache.put("digest-b", "g2", _entry("b"))
    assert cache.get("digest-a", "g1") is None  # the cache now holds g2's entries only
    assert cache.get("digest-a", "g2") is None
    assert cache.get("digest-b", "g2") is not None


def test_a_late_writer_of_an_older_generation_never_serves_a_newer_reader() -> None:
    cache = ActorCache()
    cache.put("digest-a", "g2", _entry("new"))
    cache.put("digest-a", "g1", _entry("old"))  # a request that read g1 before g2 was committed
    assert cache.get("digest-a", "g2") is None  # a reader of g2 reloads rather than take g1's actor


def test_no_generation_caches_nothing_and_the_size_is_bounded() -> None:
    cache = ActorCache(max_entries=2)
    cache.put("digest-a", None, _entry("a"))
    assert cache.get("digest-a", None) is None
    for name in "abc":
        cache.put(f"digest-{name}", "g", _entry(name))
    assert cache.get("digest-c", "g") is not None
    assert sum(cache.get(f"digest-{n}", "g") is not None for n in "abc") <= 2
