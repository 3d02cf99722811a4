"""Domain events, collected by a unit of work and published only after its transaction commits."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class ItemKind(StrEnum):
    FLAG = "flags"
    SEGMENT = "segments"


@dataclass(frozen=True)
class SdkItemChanged:
    """A flag or segment changed (or was deleted) in one environment; SDK streams need a patch/delete."""

    environment_id: str
    kind: ItemKind
    key: str
    version: int
    deleted: bool = False


@dataclass(frozen=True)
class EnvironmentChanged:
    """An environment's whole payload must be re-sent (created, deleted, keys reset)."""

    environment_id: str
    reset_credentials: bool = False
    deleted: bool = False


Event = SdkItemChanged | EnvironmentChanged
