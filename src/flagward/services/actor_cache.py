"""The actors tokens were last authenticated as, kept while no account has changed since.

Authenticating a token reads its row, its member, the member's teams, custom roles and maintained teams,
and the roles' policies: five statements and their hydration, on every REST request. An entry here is
the actor that reading produced, made under the accounts generation read *before* it
(``Meta.accounts_generation``, replaced in the same transaction as every change to members, teams,
tokens or custom roles). It is served only to a request that has just read that same generation: a
revoked token, a removed membership or a narrowed role is in force from the commit that made it, in
every process, exactly as without the cache.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from flagward.domain.accounts import AccessToken, Actor

MAX_ENTRIES = 4096


@dataclass(frozen=True)
class CachedActor:
    actor: Actor
    token: AccessToken  # as read then: its ``last_used`` decides whether to record a use


class ActorCache:
    def __init__(self, max_entries: int = MAX_ENTRIES) -> None:
        self._max = max_entries
        self._lock = threading.Lock()
        self._generation: str | None = None
        self._entries: dict[str, CachedActor] = {}

    def get(self, digest: str, generation: str | None) -> CachedActor | None:
        """The entry for the token hashed as ``digest``, if it was made under ``generation``."""
        if generation is None:
            return None
        with self._lock:
            return self._entries.get(digest) if generation == self._generation else None

    def put(self, digest: str, generation: str | None, entry: CachedActor) -> None:
        """Keep ``entry``, read after ``generation`` was read (and in the same transaction as it)."""
        if generation is None:
            return
        with self._lock:
            if generation != self._generation:
                self._generation, self._entries = generation, {}  # every entry of another generation is moot
            elif len(self._entries) >= self._max:
                self._entries.clear()
            self._entries[digest] = entry

    def clear(self) -> None:
        with self._lock:
            self._generation, self._entries = None, {}
