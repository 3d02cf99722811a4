"""Where the hub gets SDK data: the read-side services, turned into SDK JSON. Every method is blocking
(the hub runs them in a worker thread) and may raise ``StoreUnavailable``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from flagward.domain.events import ItemKind
from flagward.domain.projects import Environment
from flagward.services import sdk
from flagward.services.ports import Deps
from flagward.streaming.payloads import SdkItem, flag_item, segment_item, tombstone


@dataclass(frozen=True)
class EnvironmentKeys:
    """What the hub needs to know about an environment besides its flags."""

    id: str
    project_key: str
    key: str
    sdk_key: str
    mobile_key: str
    secure_mode: bool = False

    @classmethod
    def of(cls, env: Environment) -> EnvironmentKeys:
        return cls(env.id, env.project_key, env.key, env.api_key, env.mobile_key, env.secure_mode)


@dataclass(frozen=True)
class Snapshot:
    environment: EnvironmentKeys
    flags: dict[str, SdkItem]
    segments: dict[str, SdkItem]


class Source(Protocol):
    def by_credential(self, credential: str) -> EnvironmentKeys | None: ...
    def by_id(self, environment_id: str) -> EnvironmentKeys | None: ...
    def snapshot(self, environment_id: str) -> Snapshot | None:
        """Every item of the environment, tombstones included; None if the environment is gone."""
        ...

    def item(self, environment_id: str, kind: ItemKind, key: str) -> SdkItem | None:
        """One item (a tombstone if deleted); None if it never existed or the environment is gone."""
        ...


class ServiceSource:
    """The production source: ``flagward.services.sdk`` over the store."""

    def __init__(self, deps: Deps) -> None:
        self._deps = deps

    def by_credential(self, credential: str) -> EnvironmentKeys | None:
        env = sdk.environment_for_credential(self._deps, credential=credential)
        return EnvironmentKeys.of(env) if env else None

    def by_id(self, environment_id: str) -> EnvironmentKeys | None:
        env = sdk.environment_by_id(self._deps, environment_id=environment_id)
        return EnvironmentKeys.of(env) if env else None

    def snapshot(self, environment_id: str) -> Snapshot | None:
        data = sdk.environment_data(self._deps, environment_id=environment_id)
        if data is None:
            return None
        env_key = data.environment.key
        flags: dict[str, SdkItem] = {}
        segments: dict[str, SdkItem] = {}
        for (kind, key), version in data.tombstones.items():
            (flags if kind == ItemKind.FLAG else segments)[key] = tombstone(key, version)
        flags.update({f.key: flag_item(f, env_key) for f in data.flags})
        segments.update({s.key: segment_item(s) for s in data.segments})
        return Snapshot(EnvironmentKeys.of(data.environment), flags, segments)

    def item(self, environment_id: str, kind: ItemKind, key: str) -> SdkItem | None:
        state = sdk.item_state(self._deps, environment_id=environment_id, kind=kind, key=key)
        if state is None:
            return None
        if state.flag is not None:
            return flag_item(state.flag, next(iter(state.flag.environments)))
        if state.segment is not None:
            return segment_item(state.segment)
        return tombstone(key, state.tombstone_version) if state.tombstone_version else None
