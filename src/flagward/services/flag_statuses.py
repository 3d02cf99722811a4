"""Flag statuses: SDK summary events are tallied in memory by each process, flushed to the store now and
then (``flush_evaluations``, from a background task), and read back as LaunchDarkly's flag statuses."""

from __future__ import annotations

import threading
from typing import Any

from flagward.domain.accounts import Actor
from flagward.domain.flag_statuses import (
    DAY_MS,
    WINDOW_MS,
    EvaluationTally,
    FlagStatus,
    status_of,
    tallies_from_events,
)
from flagward.services._common import load_environment, load_flag
from flagward.services.authz import (
    authorize_environment_read,
    authorize_project_read,
    visible_environments,
)
from flagward.services.ports import Deps, StoreUnavailable

RETENTION_DAYS = 30


class EvaluationRecorder:
    """Summary events received by this process and not yet stored. Thread-safe.

    ``dropped`` counts, since the process started, the malformed events refused one by one
    (``tallies_from_events``) and the tallies the store refused to write; valid events beside them
    are kept."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._tallies: dict[tuple[str, str], EvaluationTally] = {}
        self.dropped = 0

    def record(self, environment_id: str, events: list[Any]) -> int:
        """Tally the ``summary`` events among ``events`` (an SDK's event payload); returns how many flags
        they mentioned. Other event kinds are ignored; malformed events are dropped and counted."""
        tallies, dropped = tallies_from_events(environment_id, events)
        with self._lock:
            self.dropped += dropped
            for tally in tallies:
                self._merge(tally)
        return len(tallies)

    def count_dropped(self, n: int) -> None:
        with self._lock:
            self.dropped += n

    def _merge(self, tally: EvaluationTally) -> None:
        held = self._tallies.get((tally.environment_id, tally.flag_key))
        if held is None:
            self._tallies[tally.environment_id, tally.flag_key] = tally
        else:
            held.add(tally)

    def drain(self) -> list[EvaluationTally]:
        with self._lock:
            tallies, self._tallies = list(self._tallies.values()), {}
        return tallies

    def restore(self, tallies: list[EvaluationTally]) -> None:
        """Put back tallies a failed flush took, so that they are written next time."""
        with self._lock:
            for tally in tallies:
                self._merge(tally)


def flush_evaluations(deps: Deps, recorder: EvaluationRecorder) -> int:
    """Write what ``recorder`` holds; returns the number of (environment, flag) tallies written. When the
    store is unavailable the tallies go back to the recorder and StoreUnavailable propagates. Any other
    failure cannot be cured by retrying: the tallies are then written one by one, and those the store
    refuses are dropped (``recorder.dropped``), so one bad tally never stops later flushes."""
    tallies = recorder.drain()
    if not tallies:
        return 0
    try:
        _write(deps, tallies)
    except StoreUnavailable:
        recorder.restore(tallies)
        raise
    except Exception:
        return _write_one_by_one(deps, recorder, tallies)
    return len(tallies)


def _write(deps: Deps, tallies: list[EvaluationTally]) -> None:
    with deps.uow() as uow:
        uow.flag_usage.add(tallies)
        uow.flag_usage.prune(before_day=deps.clock.now_ms() // DAY_MS - RETENTION_DAYS)
        uow.commit()


def _write_one_by_one(deps: Deps, recorder: EvaluationRecorder, tallies: list[EvaluationTally]) -> int:
    written = 0
    for i, tally in enumerate(tallies):
        try:
            _write(deps, [tally])
            written += 1
        except StoreUnavailable:
            recorder.restore(tallies[i:])
            raise
        except Exception:
            recorder.count_dropped(1)
    return written


def _since_day(now: int) -> int:
    return (now - WINDOW_MS) // DAY_MS


def list_flag_statuses(deps: Deps, *, actor: Actor, project_key: str, env_key: str) -> list[FlagStatus]:
    """The status of every flag of the project in one environment. Raises Forbidden, NotFound."""
    authorize_project_read(actor, project_key)
    now = deps.clock.now_ms()
    with deps.uow(write=False) as uow:
        env = load_environment(uow, project_key, env_key)
        authorize_environment_read(actor, env)
        flags = uow.flags.list_for_environment(project_key, env_key)
        usage = uow.flag_usage.for_environment(env.id, since_day=_since_day(now))
    return [status_of(flag, env_key, usage.get(flag.key), now=now) for flag in flags]


def get_flag_status(deps: Deps, *, actor: Actor, project_key: str, env_key: str, flag_key: str) -> FlagStatus:
    """One flag's status in one environment. Raises Forbidden, NotFound."""
    authorize_project_read(actor, project_key)
    now = deps.clock.now_ms()
    with deps.uow(write=False) as uow:
        env = load_environment(uow, project_key, env_key)
        authorize_environment_read(actor, env)
        flag = load_flag(uow, project_key, flag_key)
        usage = uow.flag_usage.for_environment(env.id, since_day=_since_day(now), flag_key=flag_key)
    return status_of(flag, env_key, usage.get(flag_key), now=now)


def get_flag_status_across_environments(
    deps: Deps, *, actor: Actor, project_key: str, flag_key: str, env_key: str | None = None
) -> dict[str, FlagStatus]:
    """A flag's status in every environment the actor may view (or only ``env_key``), by environment key."""
    authorize_project_read(actor, project_key)
    now = deps.clock.now_ms()
    with deps.uow(write=False) as uow:
        flag = load_flag(uow, project_key, flag_key)
        environments = visible_environments(actor, uow.environments.find(project_key)[0])
        result = {}
        for env in environments:
            if env_key is None or env.key == env_key:
                usage = uow.flag_usage.for_environment(env.id, since_day=_since_day(now), flag_key=flag_key)
                result[env.key] = status_of(flag, env.key, usage.get(flag_key), now=now)
    return result
