"""The store gauges computed at scrape time (``storage.observed``): approval requests counted by project,
environment, status and reviews as the domain sees them, with the series bounded; outbox families."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy import Engine

from flagward.domain.approvals import ApprovalRequest
from flagward.storage import observed
from flagward.storage.unit_of_work import SqlUnitOfWorkFactory
from tests.fakes import RecordingBroker
from tests.integration.test_approval_inbox_query import SETTINGS, _request
from tests.integration.test_repository_contract import _env, _project
from tests.support.databases import migrated_engine


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    with migrated_engine(request.param, tmp_path) as made:
        yield made


def _reviews(request: ApprovalRequest) -> str:
    if request.declines():
        return "declined"
    return "approved" if request.approvals() else "none"


def _gauges(engine: Engine) -> dict[str, dict[tuple[str, ...], float]]:
    found: dict[str, dict[tuple[str, ...], float]] = {}
    for family in observed.read(engine):
        found[family.name] = {tuple(s.labels.values()): s.value for s in family.samples}
    return found


def test_approval_requests_by_environment_status_and_reviews_bounded(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    rng = random.Random(15)
    requests = [_request(rng, i) for i in range(90)]
    factory = SqlUnitOfWorkFactory(engine, RecordingBroker())
    with factory() as uow:
        project = _project()
        uow.projects.add(project)
        for key, settings in SETTINGS.items():
            uow.environments.add(replace(_env(project, key), approval_settings=settings))
        for request in requests:
            uow.approvals.add(request)
        uow.commit()
    expected = Counter(("shop", r.environment_key, r.status.value, _reviews(r)) for r in requests)
    assert _gauges(engine)["flagward_approval_requests"] == {k: float(v) for k, v in expected.items()}

    # Beyond the bound, the environments with fewer requests are summed under _other.
    monkeypatch.setattr(observed, "MAX_ENVIRONMENTS", 1)
    per_env = Counter(r.environment_key for r in requests)
    (kept, _), *_ = per_env.most_common()
    bounded = _gauges(engine)["flagward_approval_requests"]
    assert {labels[1] for labels in bounded} == {kept, observed.OTHER}
    assert sum(bounded.values()) == len(requests)
    assert sum(v for labels, v in bounded.items() if labels[1] == kept) == per_env[kept]


def test_outbox_and_store_families_are_reported(engine: Engine) -> None:
    gauges = _gauges(engine)
    assert gauges["flagward_store_up"] == {(): 1.0}
    for name in ("flagward_outbox_pending", "flagward_outbox_oldest_pending_age_seconds", "flagward_outbox_dead"):
        assert name in gauges
    if engine.dialect.name == "postgresql":
        assert gauges["flagward_pg_pool_in_use"] == {(): 0.0}
        assert gauges["flagward_pg_pool_max"][()] > 0
