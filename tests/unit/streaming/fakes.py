"""A fake ``Source`` for the hub: environments as SDK dicts, with a log of every read."""

from __future__ import annotations

import copy
import threading
from dataclasses import dataclass, field
from typing import Any

from flagward.domain.events import ItemKind
from flagward.services.ports import StoreUnavailable
from flagward.streaming.payloads import tombstone
from flagward.streaming.source import EnvironmentKeys, Snapshot


def flag(key: str, version: int = 1, **fields: Any) -> dict[str, Any]:
    return {
        "key": key,
        "version": version,
        "on": True,
        "variations": [True, False],
        "fallthrough": {"variation": 0},
        "offVariation": 1,
        "targets": [],
        "contextTargets": [],
        "rules": [],
        "prerequisites": [],
        "salt": "s",
        "clientSideAvailability": {"usingEnvironmentId": True, "usingMobileKey": False},
        "deleted": False,
        **fields,
    }


def segment(key: str, version: int = 1, **fields: Any) -> dict[str, Any]:
    return {"key": key, "version": version, "included": [], "excluded": [], "rules": [], "salt": "s", **fields}


@dataclass
class FakeEnvironment:
    keys: EnvironmentKeys
    flags: dict[str, dict[str, Any]] = field(default_factory=dict)
    segments: dict[str, dict[str, Any]] = field(default_factory=dict)


class FakeSource:
    def __init__(self) -> None:
        self.environments: dict[str, FakeEnvironment] = {}
        self.reads: list[tuple[str, ...]] = []
        self.unavailable = False
        self.gate: threading.Event | None = None  # when set, snapshot() waits for it

    def add(self, env_id: str, *, sdk_key: str | None = None, secure_mode: bool = False) -> FakeEnvironment:
        keys = EnvironmentKeys(env_id, "proj", env_id, sdk_key or f"sdk-{env_id}", f"mob-{env_id}", secure_mode)
        self.environments[env_id] = FakeEnvironment(keys)
        return self.environments[env_id]

    def _check(self) -> None:
        if self.unavailable:
            raise StoreUnavailable("the fake store is down")

    def by_credential(self, credential: str) -> EnvironmentKeys | None:
        self.reads.append(("credential", credential))
        self._check()
        return next(
            (e.keys for e in self.environments.values() if credential in (e.keys.sdk_key, e.keys.mobile_key)), None
        )

    def by_id(self, environment_id: str) -> EnvironmentKeys | None:
        self.reads.append(("id", environment_id))
        self._check()
        env = self.environments.get(environment_id)
        return env.keys if env else None

    def snapshot(self, environment_id: str) -> Snapshot | None:
        self.reads.append(("snapshot", environment_id))
        if self.gate is not None:
            self.gate.wait(5.0)
        self._check()
        env = self.environments.get(environment_id)
        if env is None:
            return None
        return Snapshot(env.keys, copy.deepcopy(env.flags), copy.deepcopy(env.segments))

    def item(self, environment_id: str, kind: ItemKind, key: str) -> dict[str, Any] | None:
        self.reads.append(("item", environment_id, kind.value, key))
        self._check()
        env = self.environments.get(environment_id)
        if env is None:
            return None
        items = env.flags if kind is ItemKind.FLAG else env.segments
        return copy.deepcopy(items.get(key))

    def delete(self, environment_id: str, kind: ItemKind, key: str) -> int:
        env = self.environments[environment_id]
        items = env.flags if kind is ItemKind.FLAG else env.segments
        version = items[key]["version"] + 1
        items[key] = tombstone(key, version)
        return version
