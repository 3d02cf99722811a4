"""Store counters (``flagward.metrics``): transactions timed, conflicts counted once, SQLite busy waits."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from flagward import metrics
from flagward.domain.errors import OptimisticLockError
from flagward.storage.engine import make_engine
from flagward.storage.migrate import upgrade
from flagward.storage.unit_of_work import SqlUnitOfWorkFactory
from tests.fakes import RecordingBroker
from tests.integration.test_repository_contract import _project
from tests.support.databases import migrated_engine


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def factory(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SqlUnitOfWorkFactory]:
    with migrated_engine(request.param, tmp_path) as engine:
        yield SqlUnitOfWorkFactory(engine, RecordingBroker())


def _value(name: str, **labels: str) -> float:
    return metrics.REGISTRY.get_sample_value(name, labels) or 0.0


def test_transactions_are_timed_and_a_lost_race_is_one_conflict(factory: SqlUnitOfWorkFactory) -> None:
    writes = _value("flagward_store_transaction_seconds_count", kind="write")
    reads = _value("flagward_store_transaction_seconds_count", kind="read")
    conflicts = _value("flagward_store_optimistic_lock_conflicts_total")
    project = _project("counted")
    with factory() as uow:
        uow.projects.add(project)
        uow.commit()
    with factory(write=False) as uow:
        assert uow.projects.get("counted") is not None
    with pytest.raises(OptimisticLockError), factory() as uow:
        uow.projects.add(replace(project, id="f" * 24))  # the same key: a unique violation
        uow.commit()
    assert _value("flagward_store_transaction_seconds_count", kind="write") == writes + 2
    assert _value("flagward_store_transaction_seconds_count", kind="read") == reads + 1
    assert _value("flagward_store_optimistic_lock_conflicts_total") == conflicts + 1


def test_a_sqlite_writer_that_waits_for_the_lock_is_counted(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path}/busy.db")
    upgrade(engine)
    factory = SqlUnitOfWorkFactory(engine, RecordingBroker())
    before = _value("flagward_sqlite_busy_waits_total")
    holding, waiting = threading.Event(), threading.Event()

    def second_writer() -> None:
        holding.wait()
        waiting.set()
        with factory() as uow:  # BEGIN IMMEDIATE waits for the first writer's lock
            uow.commit()

    other = threading.Thread(target=second_writer)
    other.start()
    try:
        with factory() as uow:
            holding.set()
            waiting.wait()
            time.sleep(0.05)  # hold the write lock while the other writer is in its BEGIN
            uow.commit()
    finally:
        other.join()
        engine.dispose()
    assert _value("flagward_sqlite_busy_waits_total") == before + 1
    assert _value("flagward_sqlite_busy_wait_seconds_count") >= 1
