"""The read side of SDK delivery: environments by credential, and what SDKs receive of them.

The streaming hub calls these from a worker thread, once per environment it starts serving and once per
change event; SDK requests themselves are answered from the hub's memory. SDK credentials are not actors:
whoever holds an environment's SDK key may read that environment's flags, nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from flagward.domain.accounts import Actor
from flagward.domain.events import ItemKind
from flagward.domain.flags import Flag
from flagward.domain.projects import Environment
from flagward.domain.segments import Segment
from flagward.services._common import load_environment
from flagward.services.authz import (
    authorize_environment_read,
    authorize_project_read,
)
from flagward.services.ports import Deps


@dataclass(frozen=True)
class EnvironmentData:
    """Everything the SDKs of one environment receive. ``flags`` carry only this environment's
    configuration; ``tombstones`` are the versions of deleted items, by (kind, key)."""

    environment: Environment
    flags: list[Flag]
    segments: list[Segment]
    tombstones: dict[tuple[str, str], int] = field(default_factory=dict)


@dataclass(frozen=True)
class ItemState:
    """One flag or segment as SDKs must see it now: live (``flag``/``segment``), deleted (only
    ``tombstone_version``), or unknown (nothing set)."""

    kind: ItemKind
    key: str
    flag: Flag | None = None
    segment: Segment | None = None
    tombstone_version: int | None = None


def environment_for_credential(deps: Deps, *, credential: str) -> Environment | None:
    """The environment whose SDK key or mobile key is ``credential`` (callers check which one it was).
    Raises StoreUnavailable."""
    if not credential:
        return None
    with deps.uow(write=False) as uow:
        return uow.environments.get_by_credential(credential)


def environment_by_id(deps: Deps, *, environment_id: str) -> Environment | None:
    """The environment with this id (which is also its client-side ID). Raises StoreUnavailable."""
    with deps.uow(write=False) as uow:
        return uow.environments.get_by_id(environment_id)


def environment_data(deps: Deps, *, environment_id: str) -> EnvironmentData | None:
    """All flags, segments and tombstones of an environment, in one transaction; None if it is gone."""
    with deps.uow(write=False) as uow:
        env = uow.environments.get_by_id(environment_id)
        if env is None:
            return None
        flags = uow.flags.list_for_environment(env.project_key, env.key)
        segments, _ = uow.segments.find(env.project_key, env.key, None, None)
        tombstones = uow.tombstones.for_environment(env.id)
    return EnvironmentData(env, flags, segments, tombstones)


def item_state(deps: Deps, *, environment_id: str, kind: ItemKind, key: str) -> ItemState | None:
    """The current state of one item; None if the environment is gone."""
    with deps.uow(write=False) as uow:
        env = uow.environments.get_by_id(environment_id)
        if env is None:
            return None
        if kind is ItemKind.FLAG:
            flag = uow.flags.get(env.project_key, key)
            if flag is not None and env.key in flag.environments:
                flag.environments = {env.key: flag.environments[env.key]}
                return ItemState(kind, key, flag=flag)
        else:
            segment = uow.segments.get(env.project_key, env.key, key)
            if segment is not None:
                return ItemState(kind, key, segment=segment)
        version = uow.tombstones.version(env.id, kind, key)
    return ItemState(kind, key, tombstone_version=version or None)


def data_for_evaluation(deps: Deps, *, actor: Actor, project_key: str, env_key: str) -> EnvironmentData:
    """An environment's flags and segments, read now (not from any cache), for evaluating a context
    through the REST API. Raises Forbidden, NotFound."""
    authorize_project_read(actor, project_key)
    with deps.uow(write=False) as uow:
        env = load_environment(uow, project_key, env_key)
        authorize_environment_read(actor, env)
        flags = uow.flags.list_for_environment(project_key, env_key)
        segments, _ = uow.segments.find(project_key, env_key, None, None)
    return EnvironmentData(env, flags, segments)
