"""The composition root: builds engines, units of work, brokers and services from settings."""

from __future__ import annotations

import time
from dataclasses import dataclass

from sqlalchemy import Engine

from flagward.config import Settings
from flagward.passwords import Argon2Hasher
from flagward.services.ports import Deps
from flagward.storage.engine import make_engine
from flagward.storage.migrate import upgrade
from flagward.storage.unit_of_work import SqlUnitOfWorkFactory


class SystemClock:
    def now_ms(self) -> int:
        return time.time_ns() // 1_000_000


@dataclass
class Services:
    settings: Settings
    engine: Engine
    deps: Deps

    def close(self) -> None:
        self.engine.dispose()


def build_services(settings: Settings, *, migrate: bool = True) -> Services:
    engine = make_engine(settings.database_url)
    if migrate:
        upgrade(engine)
    uow = SqlUnitOfWorkFactory(engine)
    deps = Deps(uow=uow, clock=SystemClock(), passwords=Argon2Hasher())
    return Services(settings=settings, engine=engine, deps=deps)
