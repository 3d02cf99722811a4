"""What the engine may look up beyond the flag it changes, resolved by the service in its transaction."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from flagward.domain.flags import Flag


@dataclass(frozen=True)
class FlagChangeContext:
    """Lookups a flag change needs. Every callable is side-effect free.

    ``get_flag`` returns another flag of the same project (None for an unknown key; the flag being
    changed may or may not be returned: the engine never relies on it). ``dependents_of(key)`` lists
    ``(flag_key, environment_key, variation_index)`` for every prerequisite on flag ``key``.
    """

    now: int  # ms
    environment_keys: frozenset[str]
    get_flag: Callable[[str], Flag | None]
    segment_exists: Callable[[str, str], bool]  # (environment_key, segment_key)
    member_exists: Callable[[str], bool]
    team_exists: Callable[[str], bool]
    dependents_of: Callable[[str], list[tuple[str, str, int]]]
