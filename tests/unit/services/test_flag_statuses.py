"""Flag statuses through the services, on fakes: what the recorder got is flushed, then read back."""

from __future__ import annotations

import pytest

from flagward.domain.accounts import Role
from flagward.domain.errors import Forbidden
from flagward.domain.flag_statuses import DAY_MS, StatusName
from flagward.services import flag_statuses, flags, projects
from flagward.services.flag_statuses import EvaluationRecorder
from flagward.services.flags import NewFlag
from flagward.services.projects import NewProject
from tests.unit.services.conftest import World


def test_flushed_summaries_become_statuses_and_a_failed_flush_keeps_them(world: World) -> None:
    admin = world.member(Role.ADMIN)
    _, envs = projects.create_project(world.deps, actor=admin, new=NewProject(key="shop", name="Shop"))
    production = next(e for e in envs if e.key == "production")
    flags.create_flag(world.deps, actor=admin, project_key="shop", new=NewFlag(key="used", name="Used"))
    flags.create_flag(world.deps, actor=admin, project_key="shop", new=NewFlag(key="unused", name="Unused"))
    recorder = EvaluationRecorder()
    now = world.clock.now
    summary = {
        "kind": "summary",
        "startDate": now - 10,
        "endDate": now,
        "features": {"used": {"default": False, "counters": [{"count": 4, "variation": 1, "value": False}]}},
    }
    assert recorder.record(production.id, [summary]) == 1
    assert flag_statuses.flush_evaluations(world.deps, recorder) == 1
    assert flag_statuses.flush_evaluations(world.deps, recorder) == 0  # nothing left to write

    statuses = {
        s.flag_key: s
        for s in flag_statuses.list_flag_statuses(world.deps, actor=admin, project_key="shop", env_key="production")
    }
    assert statuses["used"].name is StatusName.ACTIVE and statuses["used"].last_requested == now
    assert statuses["used"].default is False and statuses["used"].has_default
    assert statuses["unused"].name is StatusName.NEW and statuses["unused"].last_requested is None
    world.clock.advance(8 * DAY_MS)
    status = flag_statuses.get_flag_status(
        world.deps, actor=admin, project_key="shop", env_key="production", flag_key="used"
    )
    assert status.name is StatusName.INACTIVE
    across = flag_statuses.get_flag_status_across_environments(
        world.deps, actor=admin, project_key="shop", flag_key="used"
    )
    assert across["test"].name is StatusName.INACTIVE and across["production"].last_requested == now


def test_reading_statuses_needs_the_read_permission(world: World) -> None:
    admin = world.member(Role.ADMIN)
    projects.create_project(world.deps, actor=admin, new=NewProject(key="shop", name="Shop"))
    nobody = world.member(Role.NO_ACCESS)
    with pytest.raises(Forbidden):
        flag_statuses.list_flag_statuses(world.deps, actor=nobody, project_key="shop", env_key="production")
